"""`mlqa init`: a starter mlqa.yaml from a data file and a model path."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import MlqaError, did_you_mean

_LABEL_NAMES = ("label", "target", "y", "class", "outcome", "income", "churn", "default")
_SENSITIVE = ("sex", "gender", "race", "ethnicity", "age_group", "religion", "nationality")


def guess_label(columns: list[str]) -> str:
    for name in _LABEL_NAMES:
        for c in columns:
            if c.lower() == name:
                return c
    return columns[-1]


def write_starter(data: Path, model: Path, *, label: str | None = None, out: Path = Path("mlqa.yaml"),
                  test: Path | None = None, force: bool = False) -> Path:
    from .tables import read_columns
    if out.exists() and not force:
        raise MlqaError(f"{out} exists; pass --force to overwrite it")
    for what, path in (("data", data), ("model", model), ("test data", test)):
        if path is not None and not path.exists():
            raise MlqaError(f"{what} file not found: {path}")
    columns = read_columns(data)
    if label is not None and label not in columns:
        hint = did_you_mean(label, columns)
        raise MlqaError(f"label column `{label}` is not in {data.name}" + (f"; {hint}" if hint else ""))
    label = label or guess_label(columns)
    if test is None:
        for cand in sorted(data.parent.glob("test*")):
            if cand != data and cand.is_file():
                test = cand
                break
    sensitive = [c for c in columns if c.lower() in _SENSITIVE]
    positive = _positive_line(data, label)
    trusted = _trusted_line(model)
    base = out.resolve().parent
    rel = lambda p: os.path.relpath(p.resolve(), base)  # noqa: E731
    lines = [
        "# Starter config written by `mlqa init`. Reference: mlqa checks --format md",
        "version: 1",
        "seed: 0",
        f"model: {{path: {rel(model)}}}" if not trusted else "model:",
        *([f"  path: {rel(model)}", trusted] if trusted else []),
        "data:",
        f"  train: {rel(data)}",
        f"  test: {rel(test)}" if test else f"  test: {rel(data)}   # TODO: point at a held-out test file",
        f"  label: {label}",
        positive,
        f"  sensitive: [{', '.join(sensitive)}]" if sensitive else "  # sensitive: [sex, race]",
        "checks:",
        "  - data.schema: {}",
        "  - data.missing: {max_fraction: 0.05}",
        "  - data.duplicates: {max_fraction: 0.01}",
        "  - data.label_leakage: {max_auc: 0.95}",
        "  - data.drift: {max_psi: 0.2}",
        "  - data.train_test_overlap: {max_fraction: 0.01}",
        "  - performance.metric: {metric: accuracy, min: 0.8}   # set your floor",
        "  - performance.slices: {max_gap: 0.1}",
        "  - performance.simple_baseline: {}",
        "gates:",
        "  staging: {blocking: [\"data.*\", \"performance.metric\"], advisory: [\"*\"]}",
        "  production: {blocking: [\"*\"]}",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def _positive_line(data: Path, label: str) -> str:
    """A binary label whose values are not 0/1 needs `positive_label:`: propose the rarer
    value (the usual positive class: fraud, churn, >50K) and say so."""
    import json

    from .tables import read_frame
    try:
        counts = read_frame(data, columns=[label])[label].value_counts()
    except Exception:  # noqa: BLE001 - a starter file is written even when the data is odd
        counts = None
    if counts is None or len(counts) != 2 or set(counts.index.tolist()) <= {0, 1, True, False}:
        return "  # positive_label: 1            # the positive class of a binary label"
    rare = counts.index[-1]
    value = rare.item() if hasattr(rare, "item") else rare
    return (f"  positive_label: {json.dumps(value)}   # the rarer of {len(counts)} values; "
            f"change it if the other is positive")


def _trusted_line(model: Path) -> str | None:
    """A skops file whose types skops does not trust by default loads only once they are
    listed under `trusted:`. Trusting is the user's decision: list them, commented out."""
    if model.suffix.lower() != ".skops":
        return None
    try:
        from skops import io as sio
        untrusted = sio.get_untrusted_types(file=model)
    except Exception:  # noqa: BLE001 - not a readable skops file: loading will say why
        return None
    if not untrusted:
        return None
    return (f"  # trusted: [{', '.join(untrusted)}]   # types this file needs that skops does not "
            f"trust by default: review them, then uncomment")
