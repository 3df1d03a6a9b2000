"""Row hashing and value helpers shared by the data checks.

Two notions of "the same row": `row_hashes` (exact: equal values, whatever the numeric
dtype each split was read with) and `near_row_hashes` (equal after `normalise`: numbers to
a number of significant digits, text case-folded with its whitespace tidied)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: integers up to this magnitude are exact as float64, so 40 (int) and 40.0 (float) hash alike
_EXACT_FLOAT = 2 ** 53
_SPACES = re.compile(r"\s+")


def _is_number(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _as_float(series: pd.Series) -> pd.Series | None:
    """The column as float64 (missing as NaN, -0.0 as 0.0) when that loses nothing, else None."""
    if pd.api.types.is_integer_dtype(series.dtype):
        values = series.dropna()
        if len(values) and int(values.abs().max()) >= _EXACT_FLOAT:
            return None
    return series.astype("float64") + 0.0


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """One uint64 per row, equal for equal rows (NaN equals NaN; 40 equals 40.0, so a
    column read as integers in one split and as floats in another still matches)."""
    cols = {}
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        canonical = _as_float(col) if _is_number(col) else None
        cols[i] = col if canonical is None else canonical
    return pd.util.hash_pandas_object(pd.DataFrame(cols, index=frame.index), index=False)


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """`values` rounded to `digits` significant digits (NaN and inf unchanged, -0.0 -> 0.0).

    Two numbers that round to the same digits map to the very same float, so they hash alike."""
    x = np.asarray(values, dtype=float)
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    if ok.any():
        v = x[ok]
        shift = digits - 1 - np.floor(np.log10(np.abs(v))).astype(int)
        plain = np.abs(shift) <= 22  # powers of ten up to 1e22 are exact floats
        # scale by an exact power of ten: 10**shift when shift >= 0, else divide by 10**-shift
        up = np.power(10.0, np.where(plain & (shift > 0), shift, 0))
        down = np.power(10.0, np.where(plain & (shift < 0), -shift, 0))
        r = np.round(v * up / down) * down / up
        if not plain.all():  # tiny or huge magnitudes: through the decimal text, rare
            r[~plain] = [float(f"{a:.{digits - 1}e}") for a in v[~plain]]
        out[ok] = r
    return out + 0.0


def normalise_text(value: str) -> str:
    """Case-folded, stripped, inner whitespace collapsed to one space."""
    return _SPACES.sub(" ", value.strip()).casefold()


def normalise(series: pd.Series, digits: int) -> pd.Series:
    """One column in its near-match form: numbers (any numeric dtype) as floats rounded to
    `digits` significant digits; text (and categories) case-folded, stripped, inner
    whitespace collapsed; booleans and dates as they are. Missing stays missing."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    if _is_number(series):
        return pd.Series(round_significant(series.astype("float64").to_numpy(), digits), index=series.index)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if not len(uniques):
        return series
    tidy = np.array([normalise_text(str(u)) for u in uniques], dtype=object)
    out = np.where(codes >= 0, tidy[np.clip(codes, 0, None)], None)
    return pd.Series(out, index=series.index, dtype=object)


def near_row_hashes(frame: pd.DataFrame, digits: int) -> pd.Series:
    """One uint64 per row, equal for rows equal after `normalise` (near duplicates)."""
    tidy = pd.DataFrame({i: normalise(frame.iloc[:, i], digits) for i in range(frame.shape[1])},
                        index=frame.index)
    return pd.util.hash_pandas_object(tidy, index=False)


def as_key(values: pd.Series) -> pd.Series:
    """Categorical values as strings with missing values as their own category."""
    return values.astype("string").fillna("<missing>")


def finite(series: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]
