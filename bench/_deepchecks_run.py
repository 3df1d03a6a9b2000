"""Runs inside the pinned deepchecks environment (see bench/_envs.py); prints JSON timings.

Trains the same kind of model as the example (ordinal-encoded categoricals into a
HistGradientBoostingClassifier) outside the timed region, then times deepchecks'
data_integrity, train_test_validation and model_evaluation suites on Adult."""
import json
import sys
import time
import warnings

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

warnings.filterwarnings("ignore")
train_path, test_path = sys.argv[1], sys.argv[2]
LABEL = "income"
train, test = pd.read_csv(train_path), pd.read_csv(test_path)
features = [c for c in train.columns if c != LABEL]
cats = [c for c in features if train[c].dtype == object]
pre = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                encoded_missing_value=-1), cats)],
                        remainder="passthrough", verbose_feature_names_out=False)
model = Pipeline([("prepare", pre), ("model", HistGradientBoostingClassifier(
    categorical_features=list(range(len(cats))), random_state=0))])
model.fit(train[features], train[LABEL])

from deepchecks.tabular import Dataset  # noqa: E402
from deepchecks.tabular.suites import data_integrity, model_evaluation, train_test_validation  # noqa: E402

timings = {}
t0 = time.perf_counter()
ds_train = Dataset(train, label=LABEL, cat_features=cats)
ds_test = Dataset(test, label=LABEL, cat_features=cats)
timings["datasets"] = time.perf_counter() - t0
results = {}
for name, run in (("data_integrity", lambda: data_integrity().run(ds_train)),
                  ("train_test_validation", lambda: train_test_validation().run(ds_train, ds_test)),
                  ("model_evaluation", lambda: model_evaluation().run(ds_train, ds_test, model))):
    t = time.perf_counter()
    result = run()
    timings[name] = time.perf_counter() - t
    results[name] = len(result.results)
print(json.dumps({"timings": timings, "checks": results}))
