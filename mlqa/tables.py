"""Tables mlqa reads (CSV, optionally compressed, TSV and Parquet) and the kind of each
column a check reasons about. pandas is imported when a table is read, not before."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: the data files `data.train` / `data.test` may name: CSV or TSV (optionally compressed), Parquet
TABLE_FILE = re.compile(r"\.(csv|tsv|parquet|pq)(\.(gz|bz2|zip|xz|zst))?$", re.IGNORECASE)


def is_table_file(path: Path) -> bool:
    """Whether mlqa reads `path` as data (by its suffix): the config loader and `mlqa init`
    ask the same question."""
    return bool(TABLE_FILE.search(path.name))


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def read_columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet file, reading only its header."""
    import pandas as pd
    if is_parquet(path):
        import pyarrow.parquet as pq
        return list(pq.read_schema(path).names)
    sep = "\t" if ".tsv" in path.name else ","
    return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep).columns]


def read_frame(path: Path, columns: list[str] | None = None) -> "pd.DataFrame":
    """The whole table, or only `columns` of it."""
    import pandas as pd
    if is_parquet(path):
        return pd.read_parquet(path, columns=columns)
    sep = "\t" if ".tsv" in path.name else ","
    return pd.read_csv(path, sep=sep, low_memory=False, usecols=columns)


def kind(series: "pd.Series") -> str:
    """numeric | categorical | boolean | datetime: the kind a check reasons about."""
    import pandas as pd
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def is_categorical(series: "pd.Series") -> bool:
    return kind(series) in ("categorical", "boolean")
