"""performance.prediction_drift and performance.unused_features: defects planted in real
UCI Adult with the example's real credit models, at several strengths; clean twins pass."""
import numpy as np
import pandas as pd
import pytest

from mlqa.registry import Registry
from mlqa.session import run_check
from mlqa.suites.performance import _model_checks

REG = Registry.discover()
REG.add_object(_model_checks)  # idempotent once the package exports the checks


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


# ------------------------------------------------------------------ prediction drift
def married_men_test(test: pd.DataFrame, share: float, n: int = 3000) -> pd.DataFrame:
    """n test rows of which `share` are married men: a population shifted to one subgroup."""
    group = test[(test["marital-status"] == "Married-civ-spouse") & (test["sex"] == "Male")]
    k = int(share * n)
    return pd.concat([test.sample(n - k, random_state=0), group.sample(k, replace=True, random_state=0)],
                     ignore_index=True)


@pytest.mark.parametrize("share, caught", [(0.2, False), (0.45, True), (0.8, True)])
def test_population_shift_drifts_predictions(make_ctx, adult_train, adult_test, credit_models, share, caught):
    _, model = credit_models
    res = run("performance.prediction_drift", make_ctx(adult_train, married_men_test(adult_test, share),
                                                        model=model), rows=4000)
    assert (res.status == "failed") is caught, res.message
    assert res.evidence["output"] == "probability of '>50K'" and len(res.evidence["bins"]) == 10
    if caught:
        assert res.metrics["psi"] > 0.1 and res.metrics["ks_statistic"] > 0.15


def test_real_adult_predictions_do_not_drift(make_ctx, adult_train, adult_test, credit_models):
    _, model = credit_models
    ctx = make_ctx(adult_train, adult_test, model=model)
    res = run("performance.prediction_drift", ctx, max_ks=0.05, rows=5000)
    assert res.status == "passed" and res.metrics["psi"] < 0.01 and res.metrics["ks_statistic"] < 0.03
    assert run("performance.prediction_drift", ctx, max_ks=0.05, rows=5000).metrics == res.metrics  # shared sample


def test_predicted_class_drift_without_probabilities(make_ctx, adult_train, adult_test, credit_models):
    _, model = credit_models

    class LabelsOnly:
        classes_ = model.classes_

        def predict(self, X):
            return model.predict(X)
    shifted = married_men_test(adult_test, 0.9)
    res = run("performance.prediction_drift", make_ctx(adult_train, shifted, model=LabelsOnly()), rows=3000)
    assert res.status == "failed" and res.evidence["output"] == "predicted class"
    assert {r["class"] for r in res.evidence["classes"]} == {"<=50K", ">50K"}


def test_regressor_prediction_drift(make_ctx, adult_train, adult_test):
    def regressor(X):  # a plain callable model: hours predicted from age
        return 30 + 0.3 * X["age"].to_numpy(dtype=float)
    kw = {"label": "hours-per-week", "positive": None, "task": "regression", "model": regressor}
    older = adult_test[adult_test["age"] > 45]
    assert run("performance.prediction_drift", make_ctx(adult_train, older, **kw)).status == "failed"
    ok = run("performance.prediction_drift", make_ctx(adult_train, adult_test, **kw))
    assert ok.status == "passed" and ok.evidence["output"] == "predicted value"


def test_prediction_drift_without_model_is_an_error(make_ctx, adult_train, adult_test):
    res = run("performance.prediction_drift", make_ctx(adult_train, adult_test))
    assert res.status == "error" and "model" in res.message


# ------------------------------------------------------------------ unused features
class ExtraColumns:
    """The credit model served behind a contract with extra columns: each extra column moves
    the positive probability by `weight` x its standardised value (0: the column is ignored)."""

    def __init__(self, model, weights: dict[str, float]):
        self.model, self.weights = model, weights
        self.classes_ = model.classes_

    def predict_proba(self, X):
        p = self.model.predict_proba(X.drop(columns=list(self.weights)))[:, 1]
        for col, w in self.weights.items():
            v = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)
            p = p + w * np.tanh(v)
        p = np.clip(p, 0.0, 1.0)
        return np.c_[1 - p, p]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def with_noise(frame: pd.DataFrame, seed: int = 0, **cols) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.assign(**{c: make(rng, len(frame)) for c, make in cols.items()})


def noise(rng, n):
    return rng.normal(0.0, 1.0, n)


@pytest.mark.parametrize("weight", [0.0, 0.001])
def test_varying_column_the_model_ignores_is_caught(make_ctx, adult_test, credit_models, weight):
    _, model = credit_models
    test = with_noise(adult_test, signal_v2=noise)
    res = run("performance.unused_features", make_ctx(None, test, model=ExtraColumns(model, {"signal_v2": weight})))
    assert res.status == "failed" and res.evidence["unused"] == ["signal_v2"] and "signal_v2" in res.message
    row = next(r for r in res.evidence["features"] if r["feature"] == "signal_v2")
    assert row["importance_ratio"] < 0.1 and row["variation"] > 0.9


def test_column_the_model_uses_is_not_unused(make_ctx, adult_test, credit_models):
    _, model = credit_models
    test = with_noise(adult_test, signal_v2=noise)
    res = run("performance.unused_features", make_ctx(None, test, model=ExtraColumns(model, {"signal_v2": 0.02})),
              rows=300)
    assert res.status == "passed" and res.evidence["unused"] == []


def test_unused_column_that_barely_varies_is_listed_not_failed(make_ctx, adult_test, credit_models):
    _, model = credit_models
    test = with_noise(adult_test, batch=lambda rng, n: (rng.random(n) < 0.01).astype(float))
    res = run("performance.unused_features", make_ctx(None, test, model=ExtraColumns(model, {"batch": 0.0})),
              rows=300, repeats=1)
    assert res.status == "passed" and "batch" in res.evidence["unused_low_variation"]


@pytest.mark.parametrize("which, rows", [(0, 300), (1, 500)])
def test_credit_models_use_every_varying_feature(make_ctx, adult_test, credit_models, which, rows):
    res = run("performance.unused_features", make_ctx(None, adult_test, model=credit_models[which]), rows=rows)
    assert res.status == "passed" and res.metrics["unused_features"] == 0
    assert res.evidence["predicted_rows"] == rows * (1 + 2 * 14)


def test_unused_features_is_seeded(make_ctx, adult_test, credit_models):
    ctx = make_ctx(None, adult_test, model=credit_models[1], seed=5)
    assert run("performance.unused_features", ctx, rows=100, repeats=1).metrics == \
        run("performance.unused_features", ctx, rows=100, repeats=1).metrics


def test_constant_model_is_an_error(make_ctx, adult_test):
    class Constant:
        classes_ = np.array(["<=50K", ">50K"])

        def predict_proba(self, X):
            return np.tile([0.7, 0.3], (len(X), 1))

        def predict(self, X):
            return np.full(len(X), "<=50K")
    res = run("performance.unused_features", make_ctx(None, adult_test, model=Constant()), rows=100)
    assert res.status == "error" and "constant" in res.message


def test_unused_features_without_model_is_an_error(make_ctx, adult_test):
    res = run("performance.unused_features", make_ctx(None, adult_test))
    assert res.status == "error" and "model" in res.message
