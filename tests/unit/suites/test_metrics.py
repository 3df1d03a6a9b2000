"""The vectorised weighted metrics equal scikit-learn's (property-based)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics as skm

from mlqa.context import bootstrap_weights
from mlqa.suites import _metrics
from mlqa.suites._metrics import Target


@st.composite
def binary_case(draw):
    n = draw(st.integers(6, 60))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = np.clip(np.round(rng.random(n), draw(st.integers(1, 3))), 0.01, 0.99)  # rounding makes ties
    w = rng.integers(0, 4, n).astype(float)
    w[:2] = 1.0
    return y, score, w


@settings(max_examples=60, deadline=None)
@given(binary_case())
def test_binary_metrics_match_sklearn(case):
    y, score, w = case
    pred = (score >= 0.5).astype(int)
    proba = np.c_[1 - score, score]
    t = Target(y=y, pred=pred, proba=proba, classes=[0, 1], positive=1)
    W = w[None, :]
    expect = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": skm.recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0),
        "log_loss": skm.log_loss(y, proba, sample_weight=w, labels=[0, 1]),
    }
    if len(set(y[w > 0])) == 2:
        expect["roc_auc"] = skm.roc_auc_score(y, score, sample_weight=w)
    for name, value in expect.items():
        got = _metrics.weighted(name, t, W)[0]
        assert got == pytest.approx(value, rel=1e-6, abs=1e-6), name


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 50), st.integers(0, 1000))
def test_regression_metrics_match_sklearn(n, seed):
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=n), rng.normal(size=n)
    w = rng.integers(1, 3, n).astype(float)
    t = Target(y=y, pred=p)
    assert _metrics.weighted("mae", t, w[None])[0] == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w))
    assert _metrics.weighted("rmse", t, w[None])[0] == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, p, sample_weight=w)))
    assert _metrics.weighted("r2", t, w[None])[0] == pytest.approx(skm.r2_score(y, p, sample_weight=w))


def test_multiclass_macro_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    pred = proba.argmax(1)
    t = Target(y=y, pred=pred, proba=proba, classes=[0, 1, 2], positive=None)
    assert _metrics.point("f1", t) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert _metrics.point("roc_auc", t) == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def test_bootstrap_weights_are_resamples():
    W = bootstrap_weights(50, 20, seed=3)
    assert W.shape == (20, 50) and (W.sum(1) == 50).all()
    assert (W == bootstrap_weights(50, 20, seed=3)).all()
