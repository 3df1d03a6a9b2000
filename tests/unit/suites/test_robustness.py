"""Planted robustness defects are caught; smooth twins pass. Every check reports its
batched predict calls, and the same seed gives the same metrics."""
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlqa.suites import robustness as R

NUMS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATS = ["workclass", "education", "sex", "race"]


@pytest.fixture(scope="module")
def numeric_split(adult_train, adult_test):
    tr = adult_train.sample(4000, random_state=0)[NUMS + ["income"]]
    te = adult_test.sample(2000, random_state=0)[NUMS + ["income"]]
    return tr, te


@pytest.fixture(scope="module")
def fragile(numeric_split):
    """1-nearest-neighbour on unscaled features: fnlwgt (~1e5) decides everything."""
    tr, _ = numeric_split
    return KNeighborsClassifier(1).fit(tr[NUMS], tr.income)


@pytest.fixture(scope="module")
def smooth(numeric_split):
    tr, _ = numeric_split
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(tr[NUMS], tr.income)


def test_noise_catches_a_model_that_flips_on_tiny_noise(make_ctx, numeric_split, fragile):
    r = R.noise(make_ctx(*numeric_split, model=fragile))
    assert r.status == "failed" and r.evidence["features"][0]["feature"] == "fnlwgt"
    assert r.evidence["predict_calls"] == 1 and r.evidence["rows_predicted"] > 1000
    assert [c["scale"] for c in r.evidence["curve"]] == sorted(c["scale"] for c in r.evidence["curve"])


def test_noise_passes_a_smooth_model(make_ctx, numeric_split, smooth):
    r = R.noise(make_ctx(*numeric_split, model=smooth))
    assert r.status == "passed" and r.metrics["flip_rate"] < 0.05


def test_search_finds_a_minimal_flip_of_the_fragile_model(make_ctx, numeric_split, fragile):
    r = R.search(make_ctx(*numeric_split, model=fragile))
    assert r.status == "failed" and list(r.evidence["minimal_perturbation"]) == ["fnlwgt"]
    assert abs(r.evidence["minimal_perturbation"]["fnlwgt"]) < 0.1 * numeric_split[0]["fnlwgt"].std()
    assert r.evidence["examples"] and r.evidence["predict_calls"] <= 100 + 3


def test_search_finds_nothing_on_the_smooth_model(make_ctx, numeric_split, smooth):
    r = R.search(make_ctx(*numeric_split, model=smooth))
    assert r.status == "passed" and r.metrics["counterexamples"] == 0


def test_search_is_reproducible(make_ctx, numeric_split, fragile):
    a = R.search(make_ctx(*numeric_split, model=fragile))
    b = R.search(make_ctx(*numeric_split, model=fragile))
    assert a.metrics == b.metrics and a.evidence["minimal_perturbation"] == b.evidence["minimal_perturbation"]


@pytest.fixture(scope="module")
def mixed_split(adult_train, adult_test):
    cols = NUMS + CATS + ["income"]
    return adult_train.sample(3000, random_state=1)[cols], adult_test.sample(1000, random_state=1)[cols]


def _onehot_model(tr, handle_unknown):
    pre = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="?"),
                              OneHotEncoder(handle_unknown=handle_unknown)), CATS),
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMS)])
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(tr[NUMS + CATS], tr.income)


def test_edge_inputs_catch_a_crash_on_an_unseen_category(make_ctx, mixed_split):
    r = R.edge_inputs(make_ctx(*mixed_split, model=_onehot_model(mixed_split[0], "error")))
    assert r.status == "failed"
    unseen = [f for f in r.evidence["failures"] if "__mlqa_unseen__" in f["value"]]
    assert {f["feature"] for f in unseen} == set(CATS) and "raised ValueError" in unseen[0]["problem"]


def test_edge_inputs_pass_a_model_that_ignores_unknowns(make_ctx, mixed_split):
    r = R.edge_inputs(make_ctx(*mixed_split, model=_onehot_model(mixed_split[0], "ignore")))
    assert r.status == "passed", r.evidence["failures"]
    assert r.evidence["predict_calls"] < r.evidence["cases"]  # batched, not one call per case


def test_edge_inputs_flag_invalid_probabilities(make_ctx, mixed_split):
    class Broken:
        classes_ = np.array(["<=50K", ">50K"])
        def predict_proba(self, X):
            p = np.full((len(X), 2), 0.5)
            p[pd.isna(X["age"]).to_numpy()] = np.nan
            return p
        def predict(self, X):
            return self.classes_[np.zeros(len(X), int)]
    r = R.edge_inputs(make_ctx(*mixed_split, model=Broken()))
    assert r.status == "failed" and any(f["feature"] == "age" and "NaN" in f["problem"] for f in r.evidence["failures"])


def test_missing_uses_the_mode_when_the_model_cannot_take_nan(make_ctx, numeric_split, smooth):
    r = R.missing(make_ctx(*numeric_split, model=smooth))
    assert r.evidence["missing_as"] == "most frequent value" and r.status == "passed"
    hgb = HistGradientBoostingClassifier(max_iter=30).fit(numeric_split[0][NUMS], numeric_split[0].income)
    r = R.missing(make_ctx(*numeric_split, model=hgb))
    assert r.evidence["missing_as"] == "NaN"


def test_missing_catches_a_feature_the_model_cannot_do_without(make_ctx, numeric_split, smooth):
    r = R.missing(make_ctx(*numeric_split, model=smooth), max_flip_rate=0.001)
    assert r.status == "failed" and r.metrics["max_flip_rate"] > 0.001


def test_invariance_counterfactual_swap(make_ctx, mixed_split):
    tr, te = mixed_split
    uses_sex = _onehot_model(tr, "ignore")
    r = R.invariance(make_ctx(tr, te, model=uses_sex), swap={"sex": "any"}, max_flip_rate=0.0)
    assert r.status == "failed" and r.evidence["transformations"][0]["transformation"].startswith("sex ->")
    blind = make_pipeline(StandardScaler(), LogisticRegression()).fit(tr[NUMS], tr.income)
    class Blind:  # ignores every column it was not trained on, sex included
        classes_ = blind.classes_
        def predict_proba(self, X):
            return blind.predict_proba(X[NUMS])
        def predict(self, X):
            return blind.predict(X[NUMS])
    ok = R.invariance(make_ctx(tr, te, model=Blind()), swap={"sex": "any"}, features=["race"], max_flip_rate=0.0)
    assert ok.status == "passed" and ok.metrics["flip_rate"] == 0.0


def test_monotonic_directions(make_ctx, numeric_split):
    tr, te = numeric_split
    free = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(tr[NUMS], tr.income)
    bad = R.monotonic(make_ctx(tr, te, model=free), increasing=["age"])
    assert bad.status == "failed" and bad.evidence["examples"][0]["score_after"] < bad.evidence["examples"][0]["score_before"]
    constrained = HistGradientBoostingClassifier(max_iter=60, random_state=0,
                                                 monotonic_cst=[1, 0, 1, 1, 0, 0]).fit(tr[NUMS], tr.income)
    ok = R.monotonic(make_ctx(tr, te, model=constrained), increasing=["age", "education-num", "capital-gain"])
    assert ok.status == "passed" and ok.evidence["predict_calls"] == 1


def test_text_columns_get_text_perturbations(make_ctx):
    rng = np.random.default_rng(0)
    words = ["great", "product", "terrible", "service", "would", "buy", "again", "never"]
    text = [" ".join(rng.choice(words, 6)) + "." for _ in range(400)]
    frame = pd.DataFrame({"review": text, "stars": rng.integers(1, 6, 400)})
    frame["label"] = (frame["review"].str.contains("great") & (frame["stars"] > 2)).astype(int)

    class CaseSensitive:  # flips when the case of "great" changes: a typo-fragile model
        classes_ = np.array([0, 1])
        def predict_proba(self, X):
            p = X["review"].str.contains("great").to_numpy(float) * 0.9 + 0.05
            return np.c_[1 - p, p]
        def predict(self, X):
            return self.predict_proba(X).argmax(1)
    r = R.noise(make_ctx(frame, frame, label="label", positive=1, model=CaseSensitive()), columns=["review"])
    assert r.status == "failed" and r.evidence["features"][0]["feature"] == "review"


def test_search_does_not_depend_on_what_else_is_imported(make_ctx, numeric_split, fragile, tmp_path, monkeypatch):
    """hypothesis harvests constants from loaded modules; the search must not see them."""
    import importlib
    before = R.search(make_ctx(*numeric_split, model=fragile))
    (tmp_path / "mlqa_noise_constants.py").write_text(
        "VALUES = [" + ", ".join(f"{x * 0.37:.4f}" for x in range(1, 400)) + ", 1.0, 2.0, 1234.5]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("mlqa_noise_constants")
    after = R.search(make_ctx(*numeric_split, model=fragile))
    assert after.metrics == before.metrics
    assert after.evidence["minimal_perturbation"] == before.evidence["minimal_perturbation"]


def test_a_search_past_its_deadline_is_stopped_between_examples(make_ctx, numeric_split, smooth):
    """hypothesis' search polls the check's deadline before each example it tries."""
    from mlqa.registry import spec_of
    from mlqa.session import run_check
    ctx = make_ctx(*numeric_split, model=smooth)
    params = {**{p.name: p.default for p in spec_of(R.search).params}, "max_examples": 10**7}
    r = run_check(spec_of(R.search), ctx, params, timeout=1.0, grace_s=30)
    assert r.status == "error" and "timed out after 1s; stopped and cleaned up" in r.message
