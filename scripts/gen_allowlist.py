"""Generate mlqa/_model_allowlist.py: the exact globals real model pickles use.

Run:  .venv/bin/python scripts/gen_allowlist.py      (rewrites mlqa/_model_allowlist.py)
      .venv/bin/python scripts/gen_allowlist.py --check   (exit 1 if the file is stale)

How: every scikit-learn classifier, regressor, transformer and clusterer that fits a small
table (plus the pipelines a tabular model is made of: ColumnTransformer, OneHotEncoder,
SimpleImputer, StandardScaler on a DataFrame; KNeighbors on each tree algorithm;
HistGradientBoosting with categorical features), NumPy arrays, scalars and random states,
and PyTorch state_dicts of common layers in every dtype are pickled with protocols 0-5 and
joblib, and walked by mlqa's own scanner with a permissive policy. Every global a stream
names is *referenced*; those it calls while loading are *called*. Nothing is guessed from a
naming pattern. Each name must also pass the identity check (defined in the package it
claims); a name that does not is reported and left out.

Two documented additions are not observed here: the NumPy 1.x spellings (`numpy.core.*`)
of the `numpy._core.*` names NumPy 2 writes, so models saved under NumPy 1.x load; and the
entries of `DOCUMENTED` below (libraries not installed in this environment), each with the
source it was read from. `NEVER` lists names stock pickles may write that stay refused.
"""
from __future__ import annotations

import argparse
import io
import pickle
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "mlqa" / "_model_allowlist.py"

#: names that stay refused even if a stock pickle writes them, and why
NEVER = {
    "builtins.range": "range(n) is lazy: list(range(4e8)) turns a few bytes into gigabytes",
    "builtins.getattr": "getattr chains reach any attribute of any allowlisted object",
    "builtins.type": "type(name, bases, dict) builds classes at load time",
    "builtins.eval": "runs code", "builtins.exec": "runs code",
}

#: (name, called, source) for libraries not installed here, read from their source. An
#: estimator is rebuilt by NEWOBJ + BUILD of its __dict__ (scikit-learn's BaseEstimator
#: __getstate__); its Booster the same way, its native model travelling as plain data.
_XGB = ("dmlc/xgboost@379b29f python-package/xgboost/sklearn.py; core.py Booster.__getstate__ "
        "(the model as a bytearray in 'handle', parsed by XGBoosterUnserializeFromBuffer)")
_LGB = ("microsoft/LightGBM@bae0b7b python-package/lightgbm/sklearn.py; basic.py "
        "Booster.__getstate__ (the model as a string in '_handle'); engine.py best_score is a "
        "collections.defaultdict(collections.OrderedDict); LGBMClassifier._le is scikit-learn's "
        "LabelEncoder")
DOCUMENTED: list[tuple[str, bool, str]] = [
    *((f"xgboost.sklearn.{c}", True, _XGB) for c in (
        "XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier",
        "XGBRFRegressor")),
    ("xgboost.core.Booster", True, _XGB),
    *((f"lightgbm.sklearn.{c}", True, _LGB) for c in (
        "LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")),
    ("lightgbm.basic.Booster", True, _LGB),
]


class _Everything(frozenset):
    """A policy set that contains every name (discovery mode)."""

    def __contains__(self, item: object) -> bool:
        return True


def _table():
    import numpy as np
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, size=(60, 4))
    y_clf = (X[:, 0] + X[:, 1] > 1.0).astype(int)
    y_reg = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.05, 60)
    return X, y_clf, y_reg


def _instances(cls):
    try:
        from sklearn.utils._test_common.instance_generator import _construct_instances
        return list(_construct_instances(cls))[:1]
    except Exception:  # noqa: BLE001 - private helper; fall back to the default constructor
        return [cls()]


#: estimators whose fit needs another input than (X, y) of the small table
_SPECIAL_FIT = {
    "IsotonicRegression": lambda est, X, yc, yr: est.fit(X[:, 0], yr),
    "KernelCenterer": lambda est, X, yc, yr: est.fit(X @ X.T),
    "LabelBinarizer": lambda est, X, yc, yr: est.fit(yc),
    "LabelEncoder": lambda est, X, yc, yr: est.fit(yc),
    "MultiLabelBinarizer": lambda est, X, yc, yr: est.fit([[0, 1], [1]]),
    "DictVectorizer": lambda est, X, yc, yr: est.fit([{"a": 1.0, "b": "x"}, {"a": 2.0}]),
}
#: estimators that predict several targets at once
_MULTI_OUTPUT = ("ClassifierChain", "RegressorChain", "MultiOutputClassifier",
                 "MultiOutputRegressor", "MultiTaskElasticNet", "MultiTaskElasticNetCV",
                 "MultiTaskLasso", "MultiTaskLassoCV")


def fit_one(name: str, cls: type) -> object:
    """A fitted instance of a scikit-learn estimator class on the small table (raises when
    it cannot be fitted on such a table)."""
    import numpy as np
    X, y_clf, y_reg = _table()
    est = _instances(cls)[0]
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    from sklearn.base import is_classifier
    is_clf = is_classifier(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in _SPECIAL_FIT:
            return _SPECIAL_FIT[name](est, X, y_clf, y_reg)
        if name in _MULTI_OUTPUT:
            y2 = np.column_stack([y_clf, 1 - y_clf]) if is_clf else np.column_stack([y_reg, -y_reg])
            return est.fit(X, y2)
        return est.fit(X, y_clf if is_clf else np.exp(y_reg))


def fitted_estimators() -> dict[str, object]:
    """name -> fitted estimator, for every estimator that fits the small table."""
    from sklearn.utils import all_estimators
    out: dict[str, object] = {}
    for name, cls in all_estimators(type_filter=["classifier", "regressor", "transformer",
                                                 "cluster"]):
        try:
            out[name] = fit_one(name, cls)
        except Exception:  # noqa: BLE001, S112 - estimators needing special input are skipped
            continue
    return out


def pipelines() -> dict[str, object]:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80),
                       "c": rng.choice(["x", "y", "z"], 80)})
    df.loc[::7, "a"] = np.nan
    y = (df.b > 0).astype(int)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])])
    out: dict[str, object] = {
        "pipeline-lr": make_pipeline(pre, LogisticRegression()).fit(df, y),
        "pipeline-rf": make_pipeline(pre, RandomForestClassifier(n_estimators=3)).fit(df, y),
        "hgb-categorical": make_pipeline(
            ColumnTransformer([("cat", OrdinalEncoder(), ["c"])], remainder="passthrough"),
            HistGradientBoostingClassifier(max_iter=5, categorical_features=[0])).fit(df, y),
    }
    Xn = df[["b"]].to_numpy()
    for algo in ("kd_tree", "ball_tree", "brute", "auto"):
        out[f"knn-{algo}"] = KNeighborsClassifier(algorithm=algo).fit(Xn, y)
        out[f"knnr-{algo}"] = KNeighborsRegressor(algorithm=algo).fit(Xn, df.b)
    return out


def numpy_objects() -> dict[str, object]:
    import numpy as np
    return {
        "arrays": [np.arange(2, dtype=t) for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1",
                                                    "u2", "u4", "u8", "c8", "c16", "?")],
        "object": np.array(["a", 1, None], dtype=object),
        "strings": np.array(["ab", "c"]), "bytes": np.array([b"ab"]),
        "structured": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "timedelta": np.array([1], dtype="timedelta64[s]"),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "scalars": [np.float64(1.5), np.int64(2), np.bool_(True), np.float32(1), np.str_("s")],
        # scalar types as estimator parameters (dtype=np.float32): every concrete one
        "types": sorted({t for ts in np.sctypes.values() for t in ts} if hasattr(np, "sctypes")
                        else {np.dtype(c).type for c in "?bhilqpBHILQPefdgFDGSUVOMm"},
                        key=lambda t: t.__name__),
        "random_state": np.random.RandomState(0),
        "generator": np.random.default_rng(0),
        "masked": np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
    }


def python_objects() -> dict[str, object]:
    import collections
    return {"containers": [{1}, frozenset([2]), b"bytes", bytearray(b"ba"), complex(1, 2),
                           collections.OrderedDict(a=1), collections.defaultdict(list, a=[1]),
                           collections.Counter("ab"), slice(1, 2)]}


def torch_state_dicts() -> dict[str, bytes]:
    try:
        import torch
    except ImportError:
        return {}
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Embedding(5, 2),
                          nn.Conv1d(1, 2, 3), nn.LSTM(3, 2), nn.LayerNorm(2))
    out: dict[str, bytes] = {}
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        buf = io.BytesIO()
        torch.save(model.to(dtype).state_dict(), buf)
        out[f"state_dict-{dtype}"] = buf.getvalue()
    extra = {"int": torch.arange(3), "int32": torch.arange(3, dtype=torch.int32),
             "uint8": torch.arange(3, dtype=torch.uint8), "bool": torch.ones(2, dtype=torch.bool),
             "int8": torch.arange(3, dtype=torch.int8), "int16": torch.arange(3, dtype=torch.int16),
             "complex": torch.ones(2, dtype=torch.complex64)}
    buf = io.BytesIO()
    torch.save(extra, buf)
    out["tensors"] = buf.getvalue()
    return out


def observe() -> tuple[set[str], set[str], list[str]]:
    """(referenced, called, problems) over the whole corpus."""
    import joblib

    from mlqa import _pickle_model, _pickle_policy, model_scan
    everything = _Everything()
    _pickle_policy.REFERENCED = _pickle_policy.CALLED = everything
    _pickle_policy.ALLOWED_PACKAGES = everything
    referenced: set[str] = set()
    called: set[str] = set()
    problems: list[str] = []
    objects = {**fitted_estimators(), **pipelines(), **numpy_objects(), **python_objects()}
    for label, obj in objects.items():
        streams = {f"pickle-{p}": pickle.dumps(obj, protocol=p) for p in range(6)}
        buf = io.BytesIO()
        joblib.dump(obj, buf)
        streams["joblib"] = buf.getvalue()
        for how, data in streams.items():
            try:
                walk = _pickle_model.scan(data, arrays=True)
            except _pickle_model.ScanError as exc:
                problems.append(f"{label} ({how}): {exc}")
                continue
            referenced |= walk.globals_seen
            called |= walk.calls
            problems += [f"{label} ({how}): {f['global']}: {f['reason']}" for f in walk.findings]
    for label, data in torch_state_dicts().items():
        try:
            report = model_scan.inspect_bytes(data, label)[0]
        except _pickle_model.ScanError as exc:
            problems.append(f"{label}: {exc}")
            continue
        referenced |= report.globals_seen
        called |= report.calls
        problems += [f"{label}: {f['global']}: {f['reason']}" for f in report.findings]
    return referenced, called, problems


def render(referenced: set[str], called: set[str]) -> str:
    import numpy
    import sklearn
    versions = [f"scikit-learn {sklearn.__version__}", f"numpy {numpy.__version__}"]
    try:
        import torch
        versions.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    lines = [
        '"""Exact globals that model pickles may use — GENERATED by scripts/gen_allowlist.py,',
        "do not edit by hand (rerun the script after upgrading scikit-learn, NumPy or PyTorch).",
        "",
        f"Observed with {', '.join(versions)}, Python {sys.version.split()[0]}.",
        "CALLED: may be called while loading; VALUES_ONLY: may appear in a pickle, never called;",
        "REFERENCED: either (every name a pickle may use).",
        '"""',
        "",
    ]
    sources = {name: source for name, _, source in DOCUMENTED}
    notes = sorted(set(sources.values()))
    if notes:
        lines[-2:-2] = ["", "Documented entries (libraries not installed when generating), read from:"] + \
            [f"[{n + 1}] {note}" for n, note in enumerate(notes)]
    for var, names in (("CALLED", called), ("VALUES_ONLY", set(referenced) - set(called))):
        lines.append(f"{var}: frozenset[str] = frozenset({{")
        for name in sorted(names):
            note = f"  # documented [{notes.index(sources[name]) + 1}]" if name in sources else ""
            lines.append(f"    {name!r},{note}")
        lines.append("})")
        lines.append("")
    lines += ["REFERENCED: frozenset[str] = CALLED | VALUES_ONLY", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    referenced, called, problems = observe()
    for p in sorted(set(problems)):
        if "functools.partial may wrap" in p:
            continue  # discovery calls every name "called"; the real list passes these
        print("note:", p, file=sys.stderr)
    identity = _identity_failures(referenced)
    for name, why in sorted(identity.items()):
        print(f"left out: {name}: {why}", file=sys.stderr)
    for name in sorted(NEVER):
        if name in referenced:
            print(f"left out: {name}: {NEVER[name]}", file=sys.stderr)
    drop = set(identity) | set(NEVER) | {n for n in referenced if n.startswith("joblib.")}
    referenced -= drop
    called &= referenced
    compat = {n.replace("numpy._core.", "numpy.core.", 1) for n in referenced
              if n.startswith("numpy._core.")}
    referenced |= compat
    called |= {n.replace("numpy._core.", "numpy.core.", 1) for n in called
               if n.startswith("numpy._core.")}
    for name, is_called, _source in DOCUMENTED:
        referenced.add(name)
        if is_called:
            called.add(name)
    text = render(referenced, called)
    if args.check:
        stale = OUT.read_text() != text
        print("stale" if stale else "up to date")
        return int(stale)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(referenced)} referenced, {len(called)} called")
    return 0


def _identity_failures(names: set[str]) -> dict[str, str]:
    from mlqa import _pickle_policy
    failures = {}
    for full in names:
        if full.startswith("joblib."):
            continue  # the array wrapper is modelled by mlqa, never imported
        module, _, name = full.rpartition(".")
        # find the module/qualname split: the longest importable module prefix
        parts = full.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module, name = ".".join(parts[:i]), ".".join(parts[i:])
            try:
                __import__(module)
                break
            except ImportError:
                continue
        try:
            _pickle_policy.resolve(module, name)
        except _pickle_policy.UnsafeGlobal as exc:
            failures[full] = exc.reason
    return failures


if __name__ == "__main__":
    sys.exit(main())
