"""Every check of deepchecks' three default tabular suites (data_integrity,
train_test_validation, model_evaluation; deepchecks 0.19.1) and the mlqa check(s) that
cover it — or why mlqa has none. `mlqa checks --format md` renders it into docs/checks.md,
and tests/unit/test_deepchecks_parity.py holds it to deepchecks' real suites and to the
registered check ids.

The table is data about check ids (strings): it lives in the core, next to the catalogue
that renders it, and imports no feature package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: `same`: an mlqa check judges what deepchecks' check judges; `partial`: mlqa covers the
#: defect differently or in part (the note says how); `not needed`: no check, by choice
#: (the note says why); `not yet`: a check is warranted but not built
Coverage = Literal["same", "partial", "not needed", "not yet"]


@dataclass(frozen=True)
class ParityRow:
    suite: str                # deepchecks' suite
    check: str                # deepchecks' check name, as `check.name()` spells it
    mlqa: tuple[str, ...]     # mlqa check ids covering it (empty: none)
    coverage: Coverage
    note: str = ""            # how it is covered, or why it is not


_DI, _TT, _ME = "data_integrity", "train_test_validation", "model_evaluation"

PARITY: tuple[ParityRow, ...] = (
    # ---------------------------------------------------------------- data_integrity
    ParityRow(_DI, "Is Single Value", ("data.single_value",), "same",
              "also a column constant in one split only, unless the split is too small for that to be unlikely"),
    ParityRow(_DI, "Special Characters", ("data.special_characters",), "same"),
    ParityRow(_DI, "Mixed Nulls", ("data.mixed_nulls",), "same",
              "kinds are counted over train and test together: NaN in train and `?` in test is a mismatch"),
    ParityRow(_DI, "Mixed Data Types", ("data.mixed_types",), "same"),
    ParityRow(_DI, "String Mismatch", ("data.string_mismatch",), "same"),
    ParityRow(_DI, "Data Duplicates", ("data.duplicates",), "same",
              "exact and near duplicates; identifier columns are left out of row identity"),
    ParityRow(_DI, "String Length Out Of Bounds", ("data.schema", "data.special_characters"), "not yet",
              "a value far longer or shorter than its column's usual length (fields concatenated, a log line in a "
              "category) is caught only where it is also a category train never saw (data.schema) or mostly "
              "punctuation (data.special_characters); a length check for free-text columns is not built"),
    ParityRow(_DI, "Conflicting Labels", ("data.conflicting_labels",), "same"),
    ParityRow(_DI, "Outlier Sample Detection", ("data.outliers",), "same"),
    ParityRow(_DI, "Feature Label Correlation", ("data.label_leakage",), "same",
              "single-feature predictive power as held-out ROC AUC (R^2 for regression) instead of the "
              "predictive power score"),
    ParityRow(_DI, "Feature Feature Correlation", (), "not needed",
              "two strongly related features are a property of the domain, not a defect to block on (on UCI Adult, "
              "education and education-num encode the same thing and deepchecks' default condition fails); what "
              "matters for the gate — a copy of the label, a changed relationship between train and test — is "
              "judged by data.label_leakage and data.multivariate_drift"),
    ParityRow(_DI, "Identifier Label Correlation", ("data.identifiers",), "same",
              "identifier columns are found without being declared, and flagged when the model uses one"),
    # ---------------------------------------------------------------- train_test_validation
    ParityRow(_TT, "Datasets Size Comparison", ("performance.metric", "performance.regression"), "not needed",
              "the ratio of test to train rows says nothing about whether the test set is big enough; the 95% "
              "bootstrap interval of performance.metric and the paired confidence of performance.regression do"),
    ParityRow(_TT, "New Label Train Test", ("data.new_categories",), "same",
              "labels in test that train lacks are reported with the new categories"),
    ParityRow(_TT, "New Category Train Test", ("data.new_categories", "data.schema"), "same"),
    ParityRow(_TT, "String Mismatch Comparison", ("data.string_mismatch",), "same",
              "variants are looked for across train and test together"),
    ParityRow(_TT, "Date Train Test Leakage Duplicates", ("data.train_test_overlap",), "not yet",
              "mlqa's data config has no time column yet, so test dates seen in train are not checked as such; a "
              "test row copied from train (its date included) is caught by data.train_test_overlap"),
    ParityRow(_TT, "Date Train Test Leakage Overlap", (), "not yet",
              "needs a declared time column (not in mlqa's data config yet): a temporal split whose test rows "
              "predate the end of training goes unreported"),
    ParityRow(_TT, "Index Train Test Leakage", ("data.identifiers", "data.train_test_overlap"), "same",
              "key columns are detected, not declared: key values shared by train and test are reported"),
    ParityRow(_TT, "Train Test Samples Mix", ("data.train_test_overlap",), "same",
              "exact and near matches, each with its own limit"),
    ParityRow(_TT, "Feature Label Correlation Change", ("data.feature_label_correlation_change",), "same"),
    ParityRow(_TT, "Feature Drift", ("data.drift",), "same", "PSI, with KS / chi-square p-values reported"),
    ParityRow(_TT, "Label Drift", ("data.label_drift",), "same"),
    ParityRow(_TT, "Multivariate Drift", ("data.multivariate_drift",), "same",
              "a cross-validated domain classifier, its AUC with an interval and the features that explain it"),
    # ---------------------------------------------------------------- model_evaluation
    ParityRow(_ME, "Train Test Performance", ("performance.metric", "privacy.membership_inference"), "partial",
              "mlqa judges the held-out score (performance.metric floors, performance.regression, "
              "performance.simple_baseline) rather than the train-test gap: a gap with a good test score ships "
              "fine, a poor test score fails either way; performance.metric with `split: train` shows the train "
              "score, and privacy.membership_inference measures memorisation"),
    ParityRow(_ME, "Roc Report", ("performance.metric",), "partial",
              "`metric: roc_auc` with a `min` judges the AUC with a bootstrap interval; the curve itself is not drawn"),
    ParityRow(_ME, "Confusion Matrix Report", ("performance.metric",), "same",
              "the confusion matrix is in performance.metric's evidence for classifiers"),
    ParityRow(_ME, "Prediction Drift", ("performance.prediction_drift",), "same"),
    ParityRow(_ME, "Simple Model Comparison", ("performance.simple_baseline",), "same"),
    ParityRow(_ME, "Weak Segments Performance", ("performance.slices", "fairness.group_performance"), "partial",
              "slices are one value of one column (numeric columns binned); deepchecks also searches pairs of "
              "features; intersections of sensitive columns are judged by fairness.group_performance"),
    ParityRow(_ME, "Calibration Score", ("performance.calibration",), "same",
              "expected calibration error with a limit instead of the Brier score"),
    ParityRow(_ME, "Regression Error Distribution", ("performance.metric",), "not yet",
              "performance.metric judges the size of a regressor's errors (rmse, mae, r2) but not their shape: a "
              "systematic bias (mean error against RMSE) goes unreported; a check is warranted, not built"),
    ParityRow(_ME, "Unused Features", ("performance.unused_features",), "same"),
    ParityRow(_ME, "Boosting Overfit", ("performance.simple_baseline", "performance.regression"), "not needed",
              "a training-time diagnostic (pick the number of boosting rounds, early stopping) that needs the "
              "model's internals; mlqa calls a model only through predict / predict_proba in a worker process and "
              "judges the shipped model's held-out score"),
    ParityRow(_ME, "Model Inference Time", ("latency.inference",), "same",
              "latency percentiles per batch size and rows per second"),
)


def parity_markdown() -> list[str]:
    """The table as lines of Markdown (a section of docs/checks.md)."""
    out = ["## Parity with deepchecks", "",
           "Every check of deepchecks' three default tabular suites (0.19.1), and the mlqa check(s)",
           "covering it. Coverage: *same* — an mlqa check judges the same defect; *partial* — covered",
           "differently or in part; *not needed* — no check, by choice; *not yet* — warranted, not built.", "",
           "| deepchecks suite | deepchecks check | mlqa | coverage | note |", "|---|---|---|---|---|"]
    for r in PARITY:
        ids = ", ".join(f"`{c}`" for c in r.mlqa) or "—"
        out.append(f"| {r.suite} | {r.check} | {ids} | {r.coverage} | {r.note.replace('|', '&#124;')} |")
    return out + [""]
