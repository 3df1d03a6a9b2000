"""Running a deepchecks suite in its own interpreter and mapping its conditions to a
`CheckResult`."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ...results import CheckResult
from ...context import CheckContext
from ...tables import is_categorical
from ...judge import judge
from ...procs import run_process

PINS = "deepchecks==0.19.1 'numpy<2' scikit-learn==1.5.2 'pandas<2.3' category-encoders==2.6.4 'setuptools<81'"
HOW_TO = ("deepchecks needs its own environment: run `make deepchecks-env` in the mlqa checkout "
          "(creates .venv-deepchecks), or `python -m venv .venv-deepchecks && .venv-deepchecks/bin/pip install "
          f"{PINS}`; then set `deepchecks: {{python: .venv-deepchecks/bin/python}}` in mlqa.yaml or "
          "MLQA_DEEPCHECKS_PYTHON")


def find_python(ctx: CheckContext) -> str | None:
    """The pinned interpreter: config, then MLQA_DEEPCHECKS_PYTHON, then a .venv-deepchecks
    in the working folder or above the config."""
    if ctx.config is not None and ctx.config.deepchecks:
        return ctx.config.deepchecks["python"]
    if os.environ.get("MLQA_DEEPCHECKS_PYTHON"):
        return os.environ["MLQA_DEEPCHECKS_PYTHON"]
    starts = [Path.cwd()] + ([ctx.config.dir] if ctx.config is not None else [])
    for start in starts:
        for folder in [start, *start.parents]:
            candidate = folder / ".venv-deepchecks" / "bin" / "python"
            if candidate.exists():
                return str(candidate)
    return None


def _predictions(ctx: CheckContext, split: str) -> dict:
    preds = ctx.predictions("model", split)
    return {"pred": [p.item() if hasattr(p, "item") else p for p in preds.pred],
            "proba": None if preds.proba is None else preds.proba.tolist()}


def run_suite(ctx: CheckContext, suite: str, *, sample: int | None, allow_errors: list[str],
              fail_on_warn: bool) -> CheckResult:
    """Hand the data (and predictions) to deepchecks' interpreter and map its report; the
    process runs under the check's deadline and is stopped when it passes."""
    python = find_python(ctx)
    if python is None or not Path(python).exists():
        return CheckResult(status="error", message=HOW_TO if python is None else f"{python} not found. {HOW_TO}")
    runner = Path(__file__).with_name("_runner.py")
    data = ctx.train or ctx.test
    cats = [c for c in data.features if is_categorical(data.frame[c])]
    with tempfile.TemporaryDirectory(prefix="mlqa-deepchecks-") as tmp:
        job: dict = {"suite": suite, "label": data.label, "cat_features": cats}
        for split in ("train", "test"):
            d = getattr(ctx, split)
            if d is None:
                continue
            frame = d.frame[list(d.features) + [d.label]]
            if sample and len(frame) > sample:
                frame = frame.sample(sample, random_state=ctx.seed)
            path = Path(tmp) / f"{split}.csv"
            frame.to_csv(path, index=False)
            job[split] = str(path)
            job.setdefault("_index", {})[split] = frame.index
        if suite == "model_evaluation":
            if ctx.model is None:
                return CheckResult(status="error", message="model_evaluation needs `model:`")
            job["predictions"] = {"classes": [c.item() if hasattr(c, "item") else c for c in (ctx.model.classes or [])]}
            for split, index in job["_index"].items():
                full = _predictions(ctx, split)
                pos = getattr(ctx, split).frame.index.get_indexer(index)
                job["predictions"][split] = {"pred": [full["pred"][i] for i in pos],
                                             "proba": None if full["proba"] is None else [full["proba"][i] for i in pos]}
        job.pop("_index")
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        out = Path(tmp) / "result.json"
        proc = run_process([python, str(runner), str(Path(tmp) / "job.json"), str(out)], deadline=ctx.deadline)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return CheckResult(status="error", message=f"deepchecks {suite} did not run: {' | '.join(tail)}",
                               evidence={"stderr": (proc.stderr or "")[-3000:]})
        report = json.loads(out.read_text())
    return _map(report, allow_errors, fail_on_warn)


# Exceptions with which deepchecks says a check does not apply here: no index or datetime
# column to examine, a regression check on a classifier, or a check that needs the model
# object itself (the adapter hands deepchecks predictions, never a pickled model).
_NOT_APPLICABLE = (("DatasetValidationError", "does not contain"), ("ModelValidationError", "irrelevant for"),
                   ("ModelValidationError", "only when receiving the model"),
                   ("DeepchecksValueError", "Feature Importance is not available"))


def not_applicable(error: str) -> bool:
    return any(error.startswith(kind) and text in error for kind, text in _NOT_APPLICABLE)


def _map(report: dict, allow_errors: list[str], fail_on_warn: bool) -> CheckResult:
    """One row per deepchecks condition; a deepchecks check that could not run is an error
    (unless deepchecks said it does not apply here, or it is listed in `allow_errors`)."""
    rows, errors, skipped = [], [], []
    for item in report["checks"]:
        if "error" in item:
            row = {"check": item["check"], "condition": "(could not run)", "result": "ERROR", "details": item["error"]}
            if not_applicable(item["error"]):
                skipped.append({**row, "result": "NOT APPLICABLE"})
            else:
                (skipped if item["check"] in allow_errors else errors).append(row)
            continue
        for c in item["conditions"]:
            rows.append({"check": item["check"], "condition": c["condition"], "result": c["category"],
                         "details": c["details"]})
    counts = {k: sum(r["result"] == k for r in rows) for k in ("FAIL", "WARN", "PASS", "ERROR")}
    metrics = {"conditions_failed": float(counts["FAIL"] + (counts["WARN"] if fail_on_warn else 0)),
               "conditions_warned": float(counts["WARN"]), "conditions_passed": float(counts["PASS"]),
               "condition_errors": float(counts["ERROR"]), "checks_errored": float(len(errors))}
    evidence = {"deepchecks": report.get("deepchecks"), "suite": report.get("suite"),
                "conditions": sorted(rows, key=lambda r: ["ERROR", "FAIL", "WARN", "PASS"].index(r["result"])),
                "errors": errors, "not_run": skipped, "seconds": round(report.get("seconds", 0.0), 2)}
    failing = [f"{r['check']}: {r['condition']}" for r in rows if r["result"] == "FAIL"
               or (fail_on_warn and r["result"] == "WARN")]
    if errors or counts["ERROR"]:
        names = [e["check"] for e in errors] + [r["check"] for r in rows if r["result"] == "ERROR"]
        return CheckResult(status="error", metrics=metrics, evidence=evidence,
                           thresholds={"checks_errored": "<= 0", "conditions_failed": "<= 0"},
                           message=f"deepchecks could not run: {', '.join(names[:5])} "
                                   f"(list accepted ones in `allow_errors`)")
    detail = "; ".join(failing[:4])
    if skipped:
        detail += f"{'; ' if detail else ''}{len(skipped)} deepchecks checks not applicable here (see evidence)"
    return judge(metrics, {"conditions_failed": ("<=", 0.0), "checks_errored": ("<=", 0.0)},
                 detail=detail, evidence=evidence)
