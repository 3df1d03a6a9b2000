"""Data that cannot support any verdict is a config error, never a pass.

Checked once, when the run's subjects are loaded (`build_context`), before any check:

- a split with no rows (a header-only CSV): every metric on it is empty or undefined;
- a label with a single value (or none) in a split: a classifier cannot be measured on one
  class (accuracy is trivially 1, AUC and F1 are undefined), a regressor not on a constant;
- a test set that holds the same rows as the training set (in any order): its scores
  measure memory, not generalisation.

Each error names the split's file, the line of mlqa.yaml that declares it and what to do.
The row comparison hashes rows (`pandas.util.hash_pandas_object`) and only runs when both
splits have the same number of rows, so it costs nothing on real held-out splits.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from .config import Config
    from .context import CheckContext
    from .subjects import Dataset


def check_data(ctx: CheckContext, config: Config) -> None:
    """Raise `ConfigError` (at the line of `data:` that declares the split) when the
    loaded train / test data cannot support a verdict; splits that did not load are left
    to the checks that need them (their error blocks). The models already started (their
    workers) are closed before the error propagates."""
    try:
        check_splits(ctx.train, ctx.test, task=ctx.task, file=config.path, lines=config.data.lines)
    except ConfigError:
        for name in ("model", "baseline"):
            model = ctx.subject(name)
            with contextlib.suppress(Exception):  # best effort: the config error is what matters
                if model is not None and hasattr(model, "close"):
                    model.close()
        raise


def check_splits(train: Dataset | None, test: Dataset | None, *, task: str,
                 file: str | Path | None = None, lines: Mapping[str, int] | None = None) -> None:
    """The checks of this module on two splits (either may be None). `file` and `lines`
    (key of `data:` -> line) place the error in mlqa.yaml."""
    lines = lines or {}

    def error(message: str, key: str, hint: str) -> ConfigError:
        return ConfigError(message, file=file, line=lines.get(key), hint=hint)

    for split in (train, test):
        if split is not None:
            _has_rows(split, error)
    for split in (train, test):
        if split is not None and split.label is not None and split.label in split.frame.columns:
            _label_varies(split, task, error)
    if train is not None and test is not None:
        _not_the_same_rows(train, test, error)


def _where(split: Dataset) -> str:
    return f"the {split.name} data {split.source.name}" if split.source is not None else f"the {split.name} data"


def _has_rows(split: Dataset, error: Any) -> None:
    if len(split.frame) == 0:
        raise error(f"{_where(split)} has no rows (only a header): no check can measure anything on it, "
                    f"and an empty split must never pass", split.name,
                    hint=f"point `data.{split.name}` at a file with rows"
                         + (" (a held-out split the model never saw)" if split.name == "test" else ""))


def _label_varies(split: Dataset, task: str, error: Any) -> None:
    values = split.frame[split.label].dropna()
    try:
        distinct = values.unique()
    except TypeError:  # lists or dicts in the label column
        raise error(f"the label `{split.label}` in {_where(split)} holds values that are not labels "
                    f"(e.g. {values.iloc[0]!r})", "label",
                    hint="a label is a number, a string or a boolean per row") from None
    if len(distinct) == 0:
        raise error(f"the label `{split.label}` has no values in {_where(split)} (every row is empty)",
                    "label", hint="check that `data.label` names the target column and that it is filled in")
    if len(distinct) > 1:
        return
    value = distinct[0].item() if hasattr(distinct[0], "item") else distinct[0]
    if task == "regression":
        raise error(f"the label `{split.label}` has a single value ({value!r}) in {_where(split)}: a regressor "
                    f"cannot be measured on a constant target", "label",
                    hint="use data where the target varies, or check that `data.label` names the target")
    raise error(f"the label `{split.label}` has a single value ({value!r}) in {_where(split)}: a classifier "
                f"cannot be measured on one class (accuracy is trivial, AUC and F1 are undefined)", "label",
                hint=f"use a split with every class — stratify the train/test split by `{split.label}` — "
                     f"or check that `data.label` names the target")


def _not_the_same_rows(train: Dataset, test: Dataset, error: Any) -> None:
    if len(train.frame) != len(test.frame) or len(train.frame) == 0:
        return
    if set(train.frame.columns) != set(test.frame.columns):
        return
    import numpy as np
    import pandas as pd
    a, b = _row_hashes(train.frame), _row_hashes(test.frame.loc[:, list(train.frame.columns)])
    if np.array_equal(np.sort(a), np.sort(b)):
        order = "the same" if np.array_equal(a, b) else "another"
        raise error(f"{_where(test)} holds the same rows as {_where(train)} (in {order} order): scores on "
                    f"it measure memory, not generalisation", "test",
                    hint="point `data.test` at a held-out split the model never saw (e.g. one made with "
                         "sklearn's train_test_split before training)")


def _row_hashes(frame: "pd.DataFrame") -> "np.ndarray":
    """One hash per row; object columns holding lists or dicts are hashed as their text."""
    import pandas as pd
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
