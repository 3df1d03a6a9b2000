"""A planted group penalty is blocked; a model trained on unbiased data passes."""
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlqa.suites import fairness as F


@pytest.fixture(scope="module")
def unbiased():
    """Synthetic data whose label does not depend on the group."""
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "group": rng.choice(["a", "b", "c"], n), "region": rng.choice(["north", "south"], n)})
    frame["label"] = (frame.x1 + 0.5 * frame.x2 + rng.normal(0, 0.5, n) > 0).astype(int)
    train, test = frame.iloc[:4000], frame.iloc[4000:].reset_index(drop=True)
    model = LogisticRegression().fit(train[["x1", "x2"]], train.label)
    return train, test, model


class OnFeatures:
    """The fitted model on x1, x2, with an optional penalty for one group."""

    def __init__(self, model, penalised=None, penalty=0.0):
        self.model, self.penalised, self.penalty = model, penalised, penalty
        self.classes_ = model.classes_

    def predict_proba(self, X):
        p = self.model.predict_proba(X[["x1", "x2"]])[:, 1]
        if self.penalised:
            p = np.where(X["group"].to_numpy() == self.penalised, np.clip(p - self.penalty, 0, 1), p)
        return np.c_[1 - p, p]

    def predict(self, X):
        return self.predict_proba(X).argmax(1)


def ctx_for(make_ctx, unbiased, **model_kw):
    train, test, model = unbiased
    return make_ctx(train, test, label="label", positive=1, model=OnFeatures(model, **model_kw),
                    sensitive=["group"])


@pytest.mark.parametrize("check", [F.demographic_parity, F.equalized_odds, F.equal_opportunity])
def test_group_penalty_is_blocked(make_ctx, unbiased, check):
    r = check(ctx_for(make_ctx, unbiased, penalised="b", penalty=0.3))
    assert r.status == "failed" and r.metrics["difference"] > 0.1
    worst = min(r.evidence["groups"], key=lambda g: g["selection_rate"])
    assert worst["group"] == "b" and "b" in r.message


@pytest.mark.parametrize("check", [F.demographic_parity, F.equalized_odds, F.equal_opportunity,
                                   F.group_performance])
def test_model_on_unbiased_data_passes(make_ctx, unbiased, check):
    r = check(ctx_for(make_ctx, unbiased))
    assert r.status == "passed", r.message


def test_group_table_matches_fairlearn_and_is_reported(make_ctx, unbiased):
    from fairlearn.metrics import demographic_parity_difference
    ctx = ctx_for(make_ctx, unbiased, penalised="b", penalty=0.3)
    r = F.demographic_parity(ctx)
    test = unbiased[1]
    pred = ctx.model.predict(test)
    expected = demographic_parity_difference(test.label, pred, sensitive_features=test.group)
    assert r.metrics["difference"] == pytest.approx(expected, abs=1e-9)
    assert {"group", "n", "selection_rate", "tpr", "fpr", "judged"} <= set(r.evidence["groups"][0])
    assert r.evidence["charts"][0]["type"] == "bar"
    assert r.metrics["difference_lower"] <= r.metrics["difference"] <= r.metrics["difference_upper"]


def test_four_fifths_rule(make_ctx, unbiased):
    ctx = ctx_for(make_ctx, unbiased, penalised="b", penalty=0.3)
    r = F.demographic_parity(ctx, max_difference=None, min_ratio=0.8)
    assert r.status == "failed" and r.metrics["ratio"] < 0.8 and r.thresholds == {"ratio": ">= 0.8"}


def test_intersectional_groups_and_small_groups(make_ctx, unbiased):
    train, test, model = unbiased
    small = test.copy()
    small.loc[small.index[:20], "group"] = "tiny"
    ctx = make_ctx(train, small, label="label", positive=1, model=OnFeatures(model), sensitive=["group", "region"])
    r = F.demographic_parity(ctx)
    names = {g["group"] for g in r.evidence["groups"]}
    assert "a|north" in names and "b|south" in names
    assert {g["group"] for g in r.evidence["groups"] if not g["judged"]} >= {"tiny|north"} or \
        {g["group"] for g in r.evidence["groups"] if not g["judged"]} >= {"tiny|south"}
    assert all(g["n"] < 30 for g in r.evidence["groups"] if not g["judged"])


def test_upper_bound_judges_the_interval(make_ctx, unbiased):
    ctx = ctx_for(make_ctx, unbiased)
    point = F.demographic_parity(ctx, max_difference=0.05)
    bound = F.demographic_parity(ctx, max_difference=0.05, use_upper_bound=True)
    assert "difference" in point.thresholds and "difference_upper" in bound.thresholds
    assert bound.metrics["difference_upper"] >= point.metrics["difference"]


def test_fairness_is_reproducible(make_ctx, unbiased):
    a = F.equalized_odds(ctx_for(make_ctx, unbiased, penalised="c", penalty=0.1))
    b = F.equalized_odds(ctx_for(make_ctx, unbiased, penalised="c", penalty=0.1))
    assert a.metrics == b.metrics


def test_no_sensitive_columns_is_an_error(make_ctx, unbiased):
    train, test, model = unbiased
    r = F.demographic_parity(make_ctx(train, test, label="label", positive=1, model=OnFeatures(model)))
    assert r.status == "error" and "sensitive" in r.message


class ErrsOnGroupB:
    """Predicts the truth (a feature copy of the label) except in group b, where it flips
    `fpr` of the negatives to positive and `fnr` of the positives to negative."""

    classes_ = np.array([0, 1])

    def __init__(self, fpr, fnr):
        self.fpr, self.fnr = fpr, fnr

    def predict_proba(self, X):
        truth, r, b = X["truth"].to_numpy(), X["r"].to_numpy(), X["group"].to_numpy() == "b"
        p = truth.astype(float)
        p[b & (truth == 0) & (r < self.fpr)] = 1.0
        p[b & (truth == 1) & (r < self.fnr)] = 0.0
        return np.c_[1 - p, p]

    def predict(self, X):
        return self.predict_proba(X).argmax(1)


@pytest.mark.parametrize("fpr, fnr, judged", [(0.2, 0.05, "fpr"), (0.05, 0.2, "tpr")])
def test_equalized_odds_names_the_gap_it_judges_and_charts_it(make_ctx, fpr, fnr, judged):
    """The demo judged the FPR gap (0.064) while the message and the chart showed the TPR
    gap (0.058): the message, the evidence and the first chart must be the judged gap."""
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame({"group": rng.choice(["a", "b"], n), "r": rng.random(n)})
    frame["label"] = frame["truth"] = (rng.random(n) < 0.4).astype(int)
    ctx = make_ctx(frame, frame, label="label", positive=1, model=ErrsOnGroupB(fpr, fnr), sensitive=["group"])
    r = F.equalized_odds(ctx, max_difference=0.1)
    other = "tpr" if judged == "fpr" else "fpr"
    gaps = r.evidence["gaps"]
    assert r.status == "failed" and r.evidence["judged_rate"] == judged
    assert gaps[judged]["difference"] == pytest.approx(r.metrics["difference"], abs=1e-6)
    assert gaps[other]["difference"] < gaps[judged]["difference"]
    assert r.metrics[f"{judged}_difference"] == pytest.approx(r.metrics["difference"], abs=1e-6)
    assert f"{judged} gap judged" in r.message and f"{other} gap" in r.message
    groups = {g["group"]: g for g in r.evidence["groups"]}
    assert f"b {groups['b'][judged]:.4g}" in r.message  # the judged rate of the group that differs
    chart = r.evidence["charts"][0]
    assert chart["y_label"] == judged and "judged" in chart["title"]
    assert max(chart["y"]) - min(chart["y"]) == pytest.approx(r.metrics["difference"], abs=1e-6)
    assert {c["y_label"] for c in r.evidence["charts"]} == {"tpr", "fpr"}
