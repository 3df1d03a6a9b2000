"""Planted performance defects are caught; clean twins pass (real UCI Adult, real models)."""
import numpy as np
import pytest

from mlqa.registry import Registry
from mlqa.session import run_check

REG = Registry.discover()


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


class Wrapped:
    """A real model whose outputs a test distorts."""

    def __init__(self, model, proba_fn=None):
        self.model, self.proba_fn = model, proba_fn
        self.classes_ = model.classes_

    def predict_proba(self, X):
        p = self.model.predict_proba(X)
        return self.proba_fn(X, p) if self.proba_fn else p

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


@pytest.fixture(scope="module")
def worse_challenger(credit_train_module):
    """Clearly worse: a few shallow boosting rounds."""
    return credit_train_module.train(seed=0, max_iter=4, max_depth=2)


@pytest.fixture(scope="module")
def reseeded_champion(credit_train_module):
    """Equally good: the champion's recipe with another seed."""
    return credit_train_module.train(seed=7, max_iter=200, learning_rate=0.1)


def test_clearly_worse_challenger_blocks(make_ctx, adult_train, adult_test, credit_models, worse_challenger):
    champion, _ = credit_models
    res = run("performance.regression", make_ctx(adult_train, adult_test, model=worse_challenger,
                                                 baseline=champion))
    assert res.status == "failed" and res.metrics["drop_lower_bound"] > 0.01
    assert "challenger" in res.message and res.seed == 0


def test_equal_challenger_with_another_seed_passes(make_ctx, adult_train, adult_test, credit_models,
                                                   reseeded_champion):
    champion, _ = credit_models
    res = run("performance.regression", make_ctx(adult_train, adult_test, model=reseeded_champion,
                                                 baseline=champion), max_drop=0.005)
    assert res.status == "passed" and abs(res.metrics["drop"]) < 0.005
    for metric in ("accuracy", "f1", "log_loss"):
        res = run("performance.regression", make_ctx(adult_train, adult_test, model=reseeded_champion,
                                                     baseline=champion), metric=metric, max_drop=0.01)
        assert res.status == "passed", (metric, res.message)


def test_regression_is_seeded(make_ctx, adult_train, adult_test, credit_models):
    champion, challenger = credit_models
    a = run("performance.regression", make_ctx(adult_train, adult_test, model=challenger, baseline=champion))
    b = run("performance.regression", make_ctx(adult_train, adult_test, model=challenger, baseline=champion))
    assert a.metrics == b.metrics


def test_metric_floor(make_ctx, adult_train, adult_test, credit_models):
    champion, _ = credit_models
    ctx = make_ctx(adult_train, adult_test, model=champion)
    ok = run("performance.metric", ctx, metric="roc_auc", min=0.9)
    assert ok.status == "passed" and ok.evidence["ci95"][0] < ok.metrics["roc_auc"] < ok.evidence["ci95"][1]
    bad = run("performance.metric", ctx, metric="accuracy", min=0.95)
    assert bad.status == "failed" and "below the limit 0.95" in bad.message
    assert bad.evidence["confusion_matrix"]["labels"] == ["<=50K", ">50K"]
    ranged = run("performance.metric", ctx, metric="log_loss", min=0.1, max=0.2)
    assert ranged.thresholds == {"log_loss": ">= 0.1, <= 0.2"}


def test_metric_that_does_not_fit_the_task_is_an_error(make_ctx, adult_train, adult_test, credit_models):
    ctx = make_ctx(adult_train, adult_test, model=credit_models[0])
    assert run("performance.metric", ctx, metric="rmse", max=1.0).status == "error"


def test_a_model_bad_on_one_group_has_a_bad_slice(make_ctx, adult_train, adult_test, credit_models):
    champion, _ = credit_models
    def flip_women(X, p):
        p = p.copy()
        women = (X["sex"] == "Female").to_numpy()
        p[women] = p[women][:, ::-1]
        return p
    res = run("performance.slices", make_ctx(adult_train, adult_test, model=Wrapped(champion, flip_women),
                                             sensitive=["sex"]))
    assert res.status == "failed" and res.evidence["worst"]["column"] == "sex"
    assert res.evidence["worst"]["value"] == "Female"


def test_slices_of_the_champion_within_a_looser_gap(make_ctx, adult_train, adult_test, credit_models):
    res = run("performance.slices", make_ctx(adult_train, adult_test, model=credit_models[0]), max_gap=0.15)
    assert res.status == "passed" and res.evidence["n_slices"] > 50
    small = [s for s in res.evidence["slices"] if s["n"] < 50]
    assert all(not s["judged"] for s in small)


def test_miscalibrated_model(make_ctx, adult_train, adult_test, credit_models):
    def squash(X, p):
        q = p[:, 1] ** 3
        return np.c_[1 - q, q]
    bad = run("performance.calibration", make_ctx(adult_train, adult_test, model=Wrapped(credit_models[0], squash)))
    assert bad.status == "failed" and bad.metrics["ece"] > 0.05
    good = run("performance.calibration", make_ctx(adult_train, adult_test, model=credit_models[0]))
    assert good.status == "passed" and good.metrics["ece"] < 0.02


def test_model_that_loses_to_simple_models(make_ctx, adult_train, adult_test, credit_models):
    rng = np.random.default_rng(0)
    def noise(X, p):
        q = rng.random(len(X))
        return np.c_[1 - q, q]
    bad = run("performance.simple_baseline", make_ctx(adult_train, adult_test,
                                                      model=Wrapped(credit_models[0], noise)))
    assert bad.status == "failed" and bad.metrics["margin"] < 0
    good = run("performance.simple_baseline", make_ctx(adult_train, adult_test, model=credit_models[0]),
               simple=["dummy", "tree", "linear"], min_margin=0.02)
    assert good.status == "passed"
    assert {m["model"] for m in good.evidence["models"]} == {"model", "dummy", "tree", "linear"}
