"""Row hashing and value helpers shared by the data checks."""
from __future__ import annotations

import numpy as np
import pandas as pd


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """One uint64 per row, equal for equal rows (NaN equals NaN)."""
    return pd.util.hash_pandas_object(frame, index=False)


def as_key(values: pd.Series) -> pd.Series:
    """Categorical values as strings with missing values as their own category."""
    return values.astype("string").fillna("<missing>")


def finite(series: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]
