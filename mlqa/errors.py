"""The error hierarchy. Every message says what was wrong, where, and what to do."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class MlqaError(Exception):
    """Base of every error mlqa raises on purpose (exit code 2 at the CLI)."""


class ConfigError(MlqaError):
    """An invalid mlqa.yaml: carries the file and 1-based line of the offending node."""

    def __init__(self, message: str, *, file: str | Path | None = None,
                 line: int | None = None, hint: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint
        self.problem = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{where}{self.problem}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SubjectError(MlqaError):
    """A model, data set or endpoint that cannot be loaded or used as declared."""


class UnsafeModelError(SubjectError):
    """A pickle-based model file that imports globals outside the allowlist."""

    def __init__(self, path: str | Path, findings: list[dict]) -> None:
        self.path = str(path)
        self.findings = findings
        shown = ", ".join(f"{f['global']} ({f['reason'] + ', ' if f.get('reason') else ''}"
                          f"opcode {f['opcode']} at byte {f['position']})" for f in findings[:5])
        more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
        super().__init__(
            f"refusing to load {self.path}: it imports or calls what the model allowlist refuses: "
            f"{shown}{more}. Loading it could run arbitrary code. Re-save the model with skops "
            f"(skops.io.dump) or, if you trust this exact file, load it yourself and pass the object.")


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The nearest valid name, phrased for a hint, or None when nothing is close."""
    candidates = list(candidates)
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not matches and len(name) >= 3:
        matches = [c for c in candidates if c.startswith(name)][:1]
    return f"did you mean `{matches[0]}`?" if matches else None
