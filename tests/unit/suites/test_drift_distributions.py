"""data.drift shows what drifted: the train and test distribution of each of the worst few
drifted features (overlaid histograms for a numeric one, category bars for a categorical
one) as charts in its evidence; a split that did not drift carries none."""
import numpy as np
import pandas as pd

from mlqa.registry import Registry
from mlqa.session import run_check
from mlqa.suites.data._drift_dist import (
    MAX_FEATURES,
    NUMERIC_BINS,
    categorical_chart,
    numeric_chart,
)

REG = Registry.discover()


def run(ctx, **params):
    spec = REG.get("data.drift")
    return run_check(spec, ctx, spec.bind(params), key="data.drift")


def frames(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40, 10, n), "hours": rng.normal(40, 5, n),
                         "income_k": rng.lognormal(3, 0.5, n), "weight": rng.normal(70, 8, n),
                         "city": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
                         "income": rng.choice(["<=50K", ">50K"], n)})


def distribution_charts(result):
    return [c for c in result.evidence["charts"] if c["type"] in ("hist", "bars")]


def test_a_drifted_numeric_and_categorical_feature_are_drawn(make_ctx):
    train, test = frames(seed=0), frames(seed=1)
    test["age"] = test["age"] + 15
    test["city"] = np.where(np.arange(len(test)) % 2 == 0, "c", test["city"])
    res = run(make_ctx(train, test))
    assert res.status == "failed" and set(res.evidence["drifted"]) == {"age", "city"}
    charts = {c["title"].split(":")[0]: c for c in distribution_charts(res)}
    assert set(charts) == {"age", "city"}
    age = charts["age"]
    assert age["type"] == "hist" and len(age["edges"]) == NUMERIC_BINS + 1
    ref, cur = (s["y"] for s in age["series"])
    assert abs(sum(ref) - 1) < 1e-3 and abs(sum(cur) - 1) < 1e-3
    centres = [(a + b) / 2 for a, b in zip(age["edges"], age["edges"][1:])]
    mean = lambda ys: sum(c * y for c, y in zip(centres, ys))
    assert mean(cur) - mean(ref) > 10  # the shift the chart shows is the one planted
    city = charts["city"]
    assert city["type"] == "bars" and set(city["x"]) == {"a", "b", "c"}
    c_ref, c_cur = (dict(zip(city["x"], s["y"])) for s in city["series"])
    assert c_cur["c"] > c_ref["c"] + 0.3


def test_only_the_worst_few_drifted_features_are_drawn(make_ctx):
    train, test = frames(seed=0), frames(seed=1)
    for i, col in enumerate(["age", "hours", "income_k", "weight"]):
        test[col] = test[col] * (1.5 + i)
    res = run(make_ctx(train, test))
    assert len(res.evidence["drifted"]) == 4
    drawn = [c["title"].split(":")[0] for c in distribution_charts(res)]
    assert len(drawn) == MAX_FEATURES and drawn == res.evidence["drifted"][:MAX_FEATURES]


def test_no_drift_no_distribution_chart(make_ctx):
    res = run(make_ctx(frames(seed=0), frames(seed=1)))
    assert res.status == "passed" and distribution_charts(res) == []


def test_charts_handle_missing_constant_and_many_categories():
    a = pd.Series([1.0, 1.0, np.nan, 1.0])
    chart = numeric_chart("x", a, pd.Series([np.nan, np.nan]), 0.5)
    assert len(chart["edges"]) == NUMERIC_BINS + 1 and chart["edges"][0] < chart["edges"][-1]
    assert "missing: train 25.0%, test 100.0%" in chart["x_label"]
    cats = categorical_chart("c", pd.Series([f"v{i}" for i in range(40)]), pd.Series(["v0"] * 5), 1.0)
    assert len(cats["x"]) == 13 and cats["x"][-1].startswith("other (")
    assert all(abs(sum(s["y"]) - 1) < 1e-6 for s in cats["series"])
