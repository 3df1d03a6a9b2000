"""Train the example credit-risk models on UCI Adult and save them as skops files.

    python examples/credit/train.py            # champion.skops and model.skops (challenger)

The champion is the model in production; the challenger is a retrained candidate with
other hyper-parameters and another seed. Both are scikit-learn pipelines (ordinal-encoded
categoricals into a HistGradientBoostingClassifier), saved with skops so that loading
them never unpickles arbitrary code.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

HERE = Path(__file__).resolve().parent
LABEL = "income"


def build(seed: int, **params) -> Pipeline:
    frame = pd.read_csv(HERE / "data" / "train.csv.gz", nrows=5)
    features = [c for c in frame.columns if c != LABEL]
    cats = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    pre = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), cats)],
        remainder="passthrough", verbose_feature_names_out=False)
    clf = HistGradientBoostingClassifier(categorical_features=list(range(len(cats))),
                                         random_state=seed, **params)
    return Pipeline([("prepare", pre), ("model", clf)])


def train(seed: int, **params) -> Pipeline:
    data = pd.read_csv(HERE / "data" / "train.csv.gz")
    return build(seed, **params).fit(data.drop(columns=[LABEL]), data[LABEL])


def save(model: Pipeline, path: Path) -> None:
    from skops import io as sio
    sio.dump(model, path)
    print(f"saved {path}")


def main(out: Path = HERE) -> None:
    save(train(seed=0, max_iter=200, learning_rate=0.1), out / "champion.skops")
    save(train(seed=1, max_iter=250, learning_rate=0.08, max_leaf_nodes=31), out / "model.skops")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
