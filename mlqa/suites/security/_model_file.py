"""Static scan of model files (pickle, joblib, PyTorch, skops) against an exact allowlist."""
from __future__ import annotations

from pathlib import Path

from ...context import CheckContext
from ...judge import judge
from ...registry import check
from ...results import CheckResult


@check("security.model_file")
def model_file(ctx: CheckContext, *, paths: list[str] = [], allow: list[str] = []) -> CheckResult:  # noqa: B006
    """Scans model files without loading them — what a file is comes from its content, not
    its name: plain pickles, joblib files (any compression), PyTorch zip checkpoints and
    skops archives. Every global a pickle would import or call must be an exact entry of an
    allowlist generated from what scikit-learn, NumPy and PyTorch models really pickle,
    defined in the package its name claims, and called within bounds (no `bytes(n)`, no
    huge NumPy shapes); a skops archive may hold only the types skops trusts plus the
    model's `trusted:` list. A file that is more than one thing (a pickle followed by a zip,
    a zip with a prefix), a legacy joblib array wrapper that makes joblib unpickle a sidecar
    file, or a stream the scanner cannot follow to its end is unverifiable. Each finding
    names the global, the opcode and byte position, and the zip member or sidecar file. No
    finding and no unverifiable file is allowed.

    Parameters:
    paths: files to scan, relative to mlqa.yaml (default: the config's model and baseline files)
    allow: extra globals (module.qualname) to accept, after review
    """
    from ...model_scan import scan_model_file
    base = ctx.config.dir if ctx.config is not None else Path.cwd()
    files: list[tuple[Path, frozenset[str]]] = [((base / p).resolve(), frozenset(allow))
                                                for p in paths]
    if not paths and ctx.config is not None:
        for ref in (ctx.config.model, ctx.config.baseline):
            if ref is not None and ref.path is not None:
                files.append((ref.path, frozenset(allow) | frozenset(getattr(ref, "trusted", ()))))
    if not files:
        return CheckResult(status="error", message="no model file to scan: give `paths:` or a `model: {path: ...}`")
    rows, unverifiable, formats = [], [], {}
    for f, extra in files:
        if not f.exists():
            return CheckResult(status="error", message=f"model file not found: {f}")
        try:
            report = scan_model_file(f, extra)
        except ValueError as exc:
            unverifiable.append({"file": f.name, "problem": str(exc)})
            continue
        formats[f.name] = report.format
        for finding in report.findings:
            rows.append({"file": f.name, "format": report.format, **finding})
    metrics = {"unsafe_globals": float(len(rows)), "unverifiable_files": float(len(unverifiable)),
               "files_scanned": float(len(files))}
    names = sorted({r["global"] for r in rows})
    detail = (f"not allowed: {', '.join(names[:6])}" if names else
              f"cannot verify {unverifiable[0]['file']}: {unverifiable[0]['problem']}" if unverifiable
              else f"{len(files)} file(s) use only allowed globals and types")
    return judge(metrics, {"unsafe_globals": ("<=", 0.0), "unverifiable_files": ("<=", 0.0)},
                 detail=detail, evidence={"findings": rows, "unverifiable": unverifiable,
                                          "formats": formats})
