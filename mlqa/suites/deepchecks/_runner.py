"""Runs one deepchecks tabular suite and writes its condition results as JSON.

Executed as a script by the interpreter of deepchecks' own pinned environment (deepchecks
0.19.1 needs numpy<2 and scikit-learn 1.5), so it imports nothing from mlqa and only the
standard library, pandas, numpy and deepchecks.

    python _deepchecks_runner.py JOB.json RESULT.json
"""
import json
import sys
import time
import warnings


def main(job_path: str, out_path: str) -> None:
    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd
    from deepchecks.core.check_result import CheckFailure
    from deepchecks.tabular import Dataset
    from deepchecks.tabular import suites

    job = json.load(open(job_path))
    label, cats = job["label"], job["cat_features"]
    frames = {k: pd.read_csv(job[k]) for k in ("train", "test") if job.get(k)}
    datasets = {k: Dataset(v, label=label, cat_features=cats) for k, v in frames.items()}
    kwargs = {}
    preds = job.get("predictions")
    if preds:
        kwargs["model_classes"] = preds["classes"]
        for split in ("train", "test"):
            if split in preds:
                kwargs[f"y_pred_{split}"] = np.asarray(preds[split]["pred"], dtype=object)
                if preds[split].get("proba") is not None:
                    kwargs[f"y_proba_{split}"] = np.asarray(preds[split]["proba"], dtype=float)
    suite = getattr(suites, job["suite"])()
    started = time.perf_counter()
    if job["suite"] == "data_integrity":
        result = suite.run(datasets.get("train") or datasets["test"], with_display=False)
    else:
        result = suite.run(train_dataset=datasets["train"], test_dataset=datasets["test"], with_display=False,
                           **kwargs)
    checks = []
    for item in result.results:
        if isinstance(item, CheckFailure):
            checks.append({"check": item.get_header(), "error": f"{type(item.exception).__name__}: {item.exception}"})
            continue
        conditions = [{"condition": c.name, "category": c.category.value, "details": str(c.details)[:300]}
                      for c in item.conditions_results]
        checks.append({"check": item.get_header(), "conditions": conditions})
    import deepchecks
    json.dump({"deepchecks": deepchecks.__version__, "suite": job["suite"], "checks": checks,
               "seconds": time.perf_counter() - started}, open(out_path, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
