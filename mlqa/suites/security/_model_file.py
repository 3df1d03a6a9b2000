"""Static scan of pickle-based model files against an allowlist of globals."""
from __future__ import annotations

from pathlib import Path

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import judge


@check("security.model_file")
def model_file(ctx: CheckContext, *, paths: list[str] = [], allow: list[str] = []) -> CheckResult:  # noqa: B006
    """Scans pickle-based model files — pickle, joblib (any compression) and PyTorch zip
    checkpoints — without loading them: every global the file would import must be on an
    allowlist of names that only rebuild data (numpy arrays, scikit-learn estimator
    classes, plain containers, PyTorch tensor rebuilders). Everything else is reported with
    its opcode and byte position. Blocklist scanners are routinely bypassed (importlib,
    `builtins.getattr` and `operator.attrgetter` chains); an allowlist is not. skops files
    are checked by skops' own trusted-type list when loaded. No finding is allowed.

    Parameters:
    paths: files to scan, relative to mlqa.yaml (default: the config's model and baseline files)
    allow: extra globals (module.name) to accept, after review
    """
    from ...model_scan import scan_model_file
    files: list[Path] = []
    base = ctx.config.dir if ctx.config is not None else Path.cwd()
    files += [(base / p).resolve() for p in paths]
    if not paths and ctx.config is not None:
        files += [r.path for r in (ctx.config.model, ctx.config.baseline) if r is not None and r.path is not None]
    if not files:
        return CheckResult(status="error", message="no model file to scan: give `paths:` or a `model: {path: ...}`")
    rows, skipped, unverifiable = [], [], []
    for f in files:
        if f.suffix == ".skops":
            skipped.append({"file": f.name, "reason": "skops format: loaded through skops' trusted types"})
            continue
        if not f.exists():
            return CheckResult(status="error", message=f"model file not found: {f}")
        try:
            report = scan_model_file(f, frozenset(allow))
        except ValueError as exc:
            unverifiable.append({"file": f.name, "problem": str(exc)})
            continue
        for finding in report.findings:
            rows.append({"file": f.name, "format": report.format, **finding})
    metrics = {"unsafe_globals": float(len(rows)), "unverifiable_files": float(len(unverifiable)),
               "files_scanned": float(len(files) - len(skipped))}
    names = sorted({r["global"] for r in rows})
    return judge(metrics, {"unsafe_globals": ("<=", 0.0), "unverifiable_files": ("<=", 0.0)},
                 detail=(f"not on the allowlist: {', '.join(names[:6])}" if names else
                         f"{int(metrics['files_scanned'])} file(s) import only allowlisted globals"),
                 evidence={"findings": rows, "unverifiable": unverifiable, "skipped": skipped})
