"""Build examples/credit/data/{train,test}.csv.gz from the raw UCI Adult files.

Usage: python examples/credit/prepare_data.py [ADULT_DIR]   (default: ../shared/data/adult)
The raw files have no header, a leading space before values, `?` for missing values and,
in adult.test, a comment line and labels ending with a dot; the output is clean CSV.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
           "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
           "hours-per-week", "native-country", "income"]
HERE = Path(__file__).resolve().parent


def read(path: Path, skip: int) -> pd.DataFrame:
    frame = pd.read_csv(path, header=None, names=COLUMNS, skipinitialspace=True, na_values="?",
                        skiprows=skip)
    frame["income"] = frame["income"].str.rstrip(".")
    return frame.dropna(subset=["income"])


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data" / "adult"
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    for name, file, skip in (("train", "adult.data", 0), ("test", "adult.test", 1)):
        frame = read(src / file, skip)
        frame.to_csv(out / f"{name}.csv.gz", index=False,
                     compression={"method": "gzip", "mtime": 0, "compresslevel": 9})
        print(f"{name}: {len(frame)} rows -> {out / f'{name}.csv.gz'}")


if __name__ == "__main__":
    main()
