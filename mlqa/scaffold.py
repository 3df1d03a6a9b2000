"""`mlqa init`: a starter mlqa.yaml from a data file and a model path.

The file it writes loads in `mlqa gate` as written: names are quoted where YAML would read
them as something else (a label `on` is not the boolean true, `target #1` is not cut at a
comment), and the data it points at is data `mlqa gate` reads. A file `mlqa gate` cannot
read as it is — no header row (UCI's `adult.data`), a preamble line (`adult.test`'s
`|1x3 Cross validator`), another delimiter or suffix — is converted once into a CSV next to
the config (`mlqa-data/train.csv.gz`), and the notes say what was done and why. Column
names of a headerless file come from a UCI `.names` file beside it where there is one. A
test file is looked for beside the training file (`adult.test` beside `adult.data`,
`test.csv` beside `train.csv`, `credit_test.csv` beside `credit.csv`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MlqaError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._sniff import UciNames

_LABEL_NAMES = ("label", "target", "y", "class", "outcome", "income", "churn", "default")
_SENSITIVE = ("sex", "gender", "race", "ethnicity", "age_group", "religion", "nationality")
#: suffixes of files that may hold a table (what `mlqa init` looks at for a test file)
_TABLE_LIKE = re.compile(r"\.(csv|tsv|parquet|pq|data|test|txt|dat)(\.(gz|bz2|xz|zip|zst))?$", re.IGNORECASE)
#: where converted copies of the data go, next to the config
DATA_DIR = "mlqa-data"


@dataclass(frozen=True)
class Starter:
    """What `write_starter` did: the config written, the data files it converted for it,
    and notes for the user (what was guessed or converted, and what to check)."""

    path: Path
    files: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Split:
    """One data file as init sees it: its columns, and its rows when it must be converted."""

    source: Path
    columns: list[str]
    frame: "pd.DataFrame | None" = None   # loaded: this split is written as a converted copy
    why: str = ""                          # why it is converted
    uci: bool = False                      # laid out as UCI's files are (`?` marks a missing value)
    headerless: bool = False               # its first row was data: the names came from elsewhere


def guess_label(columns: list[str]) -> str:
    for name in _LABEL_NAMES:
        for c in columns:
            if c.lower() == name:
                return c
    return columns[-1]


def find_test_file(data: Path) -> Path | None:
    """A test file beside the training file `data`: UCI's `X.test` beside `X.data`, the
    name with `train` replaced by `test` (`train.csv` -> `test.csv`, `adult_train.csv.gz`
    -> `adult_test.csv.gz`), `X_test.*` / `X-test.*` beside `X.*`; else the one file
    named `test.*`, `*_test.*` or `*-test.*` with a table's suffix in the folder."""
    folder, name = data.parent, data.name
    stem, suffixes = _split_suffixes(name)
    cands: list[str] = []
    m = re.match(r"^(.*)\.data(\.(?:gz|bz2|xz|zip|zst))?$", name, re.IGNORECASE)
    if m:
        cands.append(f"{m.group(1)}.test{m.group(2) or ''}")
    for train, test in (("training", "testing"), ("training", "test"), ("train", "test"),
                        ("Training", "Testing"), ("Training", "Test"), ("Train", "Test"), ("TRAIN", "TEST")):
        if train in stem:
            cands.append(stem.replace(train, test) + suffixes)
    cands += [f"{stem}_test{suffixes}", f"{stem}-test{suffixes}", f"{stem}.test{suffixes}"]
    for cand in cands:
        path = folder / cand
        if cand != name and path.is_file():
            return path
    loose = sorted(p for p in folder.iterdir()
                   if p.is_file() and p != data and _TABLE_LIKE.search(p.name)
                   and re.match(r"^(test[._-]|.*[_-]test[._-])", p.name, re.IGNORECASE))
    return loose[0] if len(loose) == 1 else None


def _split_suffixes(name: str) -> tuple[str, str]:
    """('adult_train', '.csv.gz') of 'adult_train.csv.gz'."""
    m = re.match(r"^(.+?)((?:\.[A-Za-z0-9]{1,8})*)$", name)
    return (m.group(1), m.group(2)) if m else (name, "")


def write_starter(data: Path, model: Path, *, label: str | None = None, out: Path = Path("mlqa.yaml"),
                  test: Path | None = None, force: bool = False) -> Starter:
    """Write a starter mlqa.yaml at `out` for training data `data` and model file `model`
    (`test`: the test data; default: a test file found beside `data`). An empty or
    unreadable data file, a missing file or an existing `out` (without `force`) is an
    `MlqaError` (exit 2 from the CLI)."""
    if out.exists() and not force:
        raise MlqaError(f"{out} exists; pass --force to overwrite it")
    for what, path in (("data", data), ("model", model), ("test data", test)):
        if path is not None and not path.exists():
            raise MlqaError(f"{what} file not found: {path}")
        if path is not None and what != "model" and not path.is_file():
            raise MlqaError(f"{what} `{path}` is not a file (pass a CSV or Parquet file)")
    notes: list[str] = []
    train = _read_split(data, None)
    if label is not None and label not in train.columns:
        hint = did_you_mean(label, train.columns)
        raise MlqaError(f"label column `{label}` is not in {data.name}" + (f"; {hint}" if hint else
                        f"; columns: {', '.join(train.columns)}"))
    # a file without a header holds its label last (UCI's layout); else the name says which
    label = label or (train.columns[-1] if train.headerless else guess_label(train.columns))
    explicit_test = test is not None
    if test is None:
        test = find_test_file(data)
        if test is not None:
            notes.append(f"test data: {test.name}, found beside {data.name} (pass --test to choose another)")
    test_split = _read_split(test, train) if test is not None else None
    if test_split is not None and set(test_split.columns) != set(train.columns):
        diff = sorted(set(train.columns) ^ set(test_split.columns), key=str)
        if explicit_test:
            raise MlqaError(f"{test_split.source.name} and {data.name} have different columns ({diff}); "
                            f"pass the test file that matches the training data")
        notes[-1] = f"ignored {test_split.source.name} beside {data.name}: its columns differ ({diff})"
        test_split = None
    if test_split is not None:
        _match_labels(train, test_split, label)
    if test_split is None:
        notes.append(f"no test file found beside {data.name}: set `data.test` in {out.name} (checks that "
                     f"compare train and test are `error` until then)")
    labels = _label_values(train, label)
    base = out.resolve().parent
    written = _write_copies(base, {"train": train, "test": test_split}, force, notes)
    rel = lambda p: os.path.relpath(Path(p).resolve(), base)  # noqa: E731
    y = yaml_scalar
    sensitive = [c for c in train.columns if c.lower() in _SENSITIVE]
    train_ref = written.get("train", train.source)
    test_ref = written.get("test", test_split.source) if test_split is not None else None
    trusted = _trusted_line(model)
    lines = [
        "# Starter config written by `mlqa init`. Reference: mlqa checks --format md",
        *[_comment(f"{rel(written[role])}: converted from {split.source} ({split.why})")
          for role, split in (("train", train), ("test", test_split)) if role in written],
        "version: 1",
        "seed: 0",
        f"model: {{path: {y(rel(model))}}}" if not trusted else "model:",
        *([f"  path: {y(rel(model))}", trusted] if trusted else []),
        "data:",
        f"  train: {y(rel(train_ref))}",
        f"  test: {y(rel(test_ref))}" if test_ref is not None
        else "  # test: test.csv   # TODO: a held-out test file with the same columns",
        f"  label: {y(label)}",
        _positive_line(labels),
        f"  sensitive: {y(sensitive)}" if sensitive else "  # sensitive: [sex, race]",
        "checks:",
        "  - data.schema: {}",
        "  - data.missing: {max_fraction: 0.05}",
        "  - data.duplicates: {max_fraction: 0.01}",
        "  - data.label_leakage: {max_auc: 0.95}",
        "  - data.drift: {max_psi: 0.2}",
        "  - data.train_test_overlap: {max_fraction: 0.01}",
        "  - performance.metric: {metric: accuracy, min: 0.8}   # set your floor",
        "  - performance.slices: {max_gap: 0.1}",
        "  - performance.simple_baseline: {}",
        "gates:",
        "  staging: {blocking: [\"data.*\", \"performance.metric\"], advisory: [\"*\"]}",
        "  production: {blocking: [\"*\"]}",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    return Starter(path=out, files=tuple(written.values()), notes=tuple(notes))


def _comment(text: str) -> str:
    return "# " + re.sub(r"\s+", " ", text)


def yaml_scalar(value: Any) -> str:
    """`value` as one line of YAML that `yaml.safe_load` reads back as `value`: plain where
    that is safe, else double-quoted with escapes (`"on"`, `"target #1"`, `">50K"`,
    `"x\\ny"`)."""
    import yaml
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30)
    text = text[:-len("\n...\n")] if text.endswith("\n...\n") else text.rstrip("\n")
    if "\n" in text or "'" in text:  # PyYAML quoted something: quote it the one way, on one line
        text = yaml.safe_dump(value, default_flow_style=True, default_style='"', allow_unicode=True,
                              width=1 << 30).rstrip("\n")
    return text


# ---------------------------------------------------------------- reading the data
def _read_split(path: Path, train: _Split | None) -> _Split:
    """`path` as init sees it. A file `mlqa gate` reads as it is (CSV or TSV with a header
    row, Parquet) is only looked at; any other is loaded, to be written as a CSV copy."""
    from ._sniff import names_file, read_names, sniff
    from .tables import is_parquet, is_table_file, read_columns
    if is_parquet(path) or re.search(r"\.(zip|zst)$", path.name, re.IGNORECASE):
        try:
            return _Split(path, read_columns(path))
        except Exception as exc:  # noqa: BLE001 - any reader error: the file is not a table we can read
            raise MlqaError(f"{path}: cannot be read as a table: {type(exc).__name__}: {exc}") from None
    sniffed = sniff(path)
    expected = "\t" if ".tsv" in path.name.lower() else ","
    if is_table_file(path) and sniffed.header and sniffed.skip == 0 and sniffed.delimiter == expected:
        try:
            return _Split(path, read_columns(path))
        except Exception as exc:  # noqa: BLE001
            raise MlqaError(f"{path}: cannot be read as a CSV table: {type(exc).__name__}: {exc}") from None
    why: list[str] = []
    if not is_table_file(path):
        why.append(f"`mlqa gate` reads .csv, .tsv and .parquet files, not {_split_suffixes(path.name)[1] or 'this'}")
    if sniffed.delimiter != expected:
        why.append(f"values separated by {sniffed.delimiter!r}")
    if sniffed.skip:
        why.append(f"skipped {sniffed.skip} line(s) before the rows: {', '.join(repr(s) for s in sniffed.skipped)}")
    names: list[str] | None = None
    uci: UciNames | None = None
    if not sniffed.header:
        why.append("no header row")
        if train is not None and len(train.columns) == sniffed.width:
            names = list(train.columns)
            why.append(f"column names of {train.source.name}")
        else:
            described = names_file(path)
            uci = read_names(described) if described is not None else None
            names = _names_from_uci(uci, sniffed.width) if uci is not None else None
            if uci is not None and described is not None and names is not None:
                why.append(f"column names from {described.name}")
            elif uci is not None and described is not None:
                why.append(f"columns named column_1..column_N ({described.name} lists {len(uci.attributes)} "
                           f"attributes for {sniffed.width} columns)")
            else:
                why.append("columns named column_1..column_N: rename them, or add a header row")
            if names is None:
                names = [f"column_{i + 1}" for i in range(sniffed.width)]
                uci = None  # a .names file that does not describe this file says nothing of `?` either
    uci_layout = uci is not None or (train is not None and train.uci)
    frame = _load(path, sniffed, names, missing=["?"] if uci_layout else None)
    if not len(frame):
        raise MlqaError(f"{path}: no rows (only a header); mlqa needs a table with a row per example")
    if uci_layout:
        why.append("`?` read as a missing value (UCI's convention)")
    return _Split(path, [str(c) for c in frame.columns], frame, "; ".join(w for w in why if w), uci=uci_layout,
                  headerless=not sniffed.header)


def _names_from_uci(uci: "UciNames", width: int) -> list[str] | None:
    """Column names from a `.names` file: its attributes, and the label (its class line,
    named `class`) last when the data has one column more than attributes."""
    attrs = list(uci.attributes)
    if len(attrs) == width:
        return attrs
    if len(attrs) == width - 1:
        return attrs + ["class" if "class" not in attrs else "label"]
    return None


def _load(path: Path, sniffed: Any, names: list[str] | None, *, missing: list[str] | None) -> "pd.DataFrame":
    import pandas as pd
    try:
        return pd.read_csv(path, sep=sniffed.delimiter, header=0 if sniffed.header else None, names=names,
                           skiprows=sniffed.skip or None, skipinitialspace=True, low_memory=False,
                           na_values=missing)
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:  # pandas' ParserError is a ValueError
        raise MlqaError(f"{path}: cannot be read as a delimited table: {exc}") from None


def _label_values(split: _Split, label: str) -> "pd.Series":
    from .tables import read_frame
    if split.frame is not None:
        return split.frame[label]
    try:
        values = read_frame(split.source, columns=[label])[label]
    except Exception as exc:  # noqa: BLE001
        raise MlqaError(f"{split.source}: cannot read column `{label}`: {type(exc).__name__}: {exc}") from None
    if not len(values):
        raise MlqaError(f"{split.source}: no rows (only a header); mlqa needs a table with a row per example")
    return values


def _match_labels(train: _Split, test: _Split, label: str) -> None:
    """The test split's label values as the train split writes them. UCI's adult.test
    ends every label with a dot (`>50K.`) where adult.data has none (`>50K`): such a
    trailing dot is removed (the test file is then converted), and the notes say so."""
    train_values = set(_label_values(train, label).dropna().tolist())
    test_labels = _label_values(test, label)
    values = set(test_labels.dropna().tolist())
    if values <= train_values or not all(isinstance(v, str) for v in values):
        return
    undotted = {v.removesuffix(".") for v in values}
    if not undotted <= train_values:
        return
    if test.frame is None:
        from .tables import read_frame
        test.frame = read_frame(test.source)
    dotted = int(test.frame[label].astype("string").str.endswith(".").fillna(False).sum())
    test.frame[label] = test.frame[label].map(lambda v: v.removesuffix(".") if isinstance(v, str) else v)
    fix = f"removed the trailing '.' of {dotted} label(s) (`{label}` values as in {train.source.name})"
    test.why = f"{test.why}; {fix}" if test.why else fix


def _write_copies(base: Path, splits: dict[str, _Split | None], force: bool, notes: list[str]) -> dict[str, Path]:
    """Write each loaded split as `mlqa-data/<role>.csv.gz` next to the config."""
    written: dict[str, Path] = {}
    for role, split in splits.items():
        if split is None or split.frame is None:
            continue
        target = base / DATA_DIR / f"{role}.csv.gz"
        if target.exists() and not force:
            raise MlqaError(f"{target} exists; pass --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        split.frame.to_csv(target, index=False, compression={"method": "gzip", "mtime": 0})
        written[role] = target
        notes.append(f"{role} data: wrote {os.path.relpath(target)} ({len(split.frame)} rows) from "
                     f"{split.source.name}: {split.why}")
    return written


# ---------------------------------------------------------------- config lines
def _positive_line(counts_of: "pd.Series") -> str:
    """A binary label whose values are not 0/1 needs `positive_label:`: propose the rarer
    value (the usual positive class: fraud, churn, >50K) and say so."""
    counts = counts_of.value_counts()
    if len(counts) != 2 or set(counts.index.tolist()) <= {0, 1, True, False}:
        return "  # positive_label: 1            # the positive class of a binary label"
    rare = counts.index[-1]
    value = rare.item() if hasattr(rare, "item") else rare
    return (f"  positive_label: {yaml_scalar(value)}   # the rarer of {len(counts)} values; "
            f"change it if the other is positive")


def _trusted_line(model: Path) -> str | None:
    """A skops file whose types skops does not trust by default loads only once they are
    listed under `trusted:`. Trusting is the user's decision: list them, commented out."""
    if model.suffix.lower() != ".skops":
        return None
    try:
        from skops import io as sio
        untrusted = sio.get_untrusted_types(file=model)
    except Exception:  # noqa: BLE001 - not a readable skops file: loading will say why
        return None
    if not untrusted:
        return None
    return (f"  # trusted: {yaml_scalar(list(untrusted))}   # types this file needs that skops does not "
            f"trust by default: review them, then uncomment")
