"""`mlqa init`: the config it writes loads in `mlqa gate` as written, whatever the data file
looks like — UCI's headerless `adult.data` with its `.names` and `adult.test` beside it,
names YAML would misread, files that are empty or not tables."""
from __future__ import annotations

import gzip
import string
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa._sniff import has_header, read_names, sniff
from mlqa.cli import main
from mlqa.config import load_config
from mlqa.scaffold import find_test_file, write_starter, yaml_scalar

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "credit" / "model.skops"
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
           "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country"]
NAMES = """| This data was extracted from the census bureau database found at
| http://www.census.gov/ftp/pub/DES/www/welcome.html
|   Donor: Ronny Kohavi and Barry Becker,

>50K, <=50K.

age: continuous.
workclass: Private, Self-emp-not-inc, Self-emp-inc, Federal-gov, Local-gov, State-gov, Without-pay.
fnlwgt: continuous.
education: Bachelors, Some-college, 11th, HS-grad, Prof-school, Assoc-acdm, Assoc-voc, 9th.
education-num: continuous.
marital-status: Married-civ-spouse, Divorced, Never-married, Separated, Widowed.
occupation: Tech-support, Craft-repair, Other-service, Sales, Exec-managerial, Prof-specialty.
relationship: Wife, Own-child, Husband, Not-in-family, Other-relative, Unmarried.
race: White, Asian-Pac-Islander, Amer-Indian-Eskimo, Other, Black.
sex: Female, Male.
capital-gain: continuous.
capital-loss: continuous.
hours-per-week: continuous.
native-country: United-States, Cambodia, England, Puerto-Rico, Canada, Germany.
"""


def _uci_rows(frame: pd.DataFrame, *, dot: bool) -> str:
    """Rows as UCI writes them: no header, `, ` between values, `?` for missing, and (in
    adult.test) a dot after every label."""
    lines = []
    for row in frame.itertuples(index=False):
        values = ["?" if pd.isna(v) else str(v) for v in row]
        if dot:
            values[-1] += "."
        lines.append(", ".join(values))
    return "\n".join(lines) + "\n\n"


@pytest.fixture
def uci_adult(tmp_path, adult_train, adult_test):
    """A folder laid out as UCI's Adult: adult.data, adult.test (a preamble line, dotted
    labels), adult.names."""
    folder = tmp_path / "adult"
    folder.mkdir()
    (folder / "adult.data").write_text(_uci_rows(adult_train.head(300), dot=False))
    (folder / "adult.test").write_text("|1x3 Cross validator\n" + _uci_rows(adult_test.head(150), dot=True))
    (folder / "adult.names").write_text(NAMES)
    return folder


def _init(*args: str) -> int:
    return main(["init", *args])


def test_uci_adult_headerless_with_names_and_test_beside_it(uci_adult, tmp_path, adult_train, adult_test,
                                                            capsys):
    out = tmp_path / "project" / "mlqa.yaml"
    out.parent.mkdir()
    assert _init("--data", str(uci_adult / "adult.data"), "--model", str(MODEL), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "adult.test, found beside adult.data" in err
    assert "no header row" in err and "column names from adult.names" in err
    assert "'|1x3 Cross validator'" in err and "removed the trailing '.' of 150 label(s)" in err
    config = load_config(out)  # what `mlqa gate` reads: the suffix, the columns, the label
    assert config.data.label == "class" and config.data.positive_label == ">50K"
    assert config.data.sensitive == ("race", "sex")
    assert config.data.train.parent.name == config.data.test.parent.name == "mlqa-data"
    train, test = pd.read_csv(config.data.train), pd.read_csv(config.data.test)
    assert list(train.columns) == COLUMNS + ["class"] and list(test.columns) == COLUMNS + ["class"]
    assert len(train) == 300 and len(test) == 150, "no row lost to a header or to the preamble line"
    assert train.iloc[0].tolist()[:2] == adult_train.iloc[0].tolist()[:2]
    assert set(test["class"]) == set(adult_test["income"].head(150)) <= {">50K", "<=50K"}
    assert train["workclass"].isna().sum() == adult_train["workclass"].head(300).isna().sum() > 0, \
        "UCI's `?` is a missing value"


def test_a_csv_with_a_header_is_referenced_not_copied(tmp_path, adult_train, adult_test, capsys):
    data = tmp_path / "data"
    data.mkdir()
    adult_train.head(200).to_csv(data / "train.csv", index=False)
    adult_test.head(100).to_csv(data / "test.csv", index=False)
    out = tmp_path / "mlqa.yaml"
    assert _init("--data", str(data / "train.csv"), "--model", str(MODEL), "--out", str(out)) == 0
    config = load_config(out)
    assert config.data.train == data / "train.csv" and config.data.test == data / "test.csv"
    assert config.data.label == "income" and not (tmp_path / "mlqa-data").exists()


@pytest.mark.parametrize("label", ["on", "yes", "target #1", "null", "- x", "a: b", "1", "[x]", "it's",
                                   "x\ny", "ünïcode"])
def test_names_yaml_would_misread_are_quoted(tmp_path, label):
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5] * 5, label: ["pos", "neg", "neg", "neg"] * 5})
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.to_csv(tmp_path / "test.csv", index=False)
    starter = write_starter(tmp_path / "train.csv", MODEL, label=label, out=tmp_path / "mlqa.yaml")
    assert yaml.safe_load(starter.path.read_text())["data"]["label"] == label
    config = load_config(starter.path)
    assert config.data.label == label and config.data.positive_label == "pos"


@settings(max_examples=60)
@given(st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=20),
                 st.lists(st.text(max_size=8), max_size=4), st.integers(), st.booleans(), st.none(),
                 st.floats(allow_nan=False)))
def test_yaml_scalar_reads_back_as_written(value):
    text = yaml_scalar(value)
    assert "\n" not in text
    assert yaml.safe_load(f"key: {text}   # a comment")["key"] == value


def test_no_test_file_beside_leaves_test_unset_not_train(tmp_path, adult_train, capsys):
    adult_train.head(120).to_csv(tmp_path / "credit.csv", index=False)
    out = tmp_path / "mlqa.yaml"
    assert _init("--data", str(tmp_path / "credit.csv"), "--model", str(MODEL), "--out", str(out)) == 0
    assert "no test file found beside credit.csv" in capsys.readouterr().err
    assert load_config(out).data.test is None


@pytest.mark.parametrize("train, beside, expected", [
    ("adult.data", ["adult.test", "adult.names"], "adult.test"),
    ("adult.data.gz", ["adult.test.gz"], "adult.test.gz"),
    ("train.csv", ["test.csv", "test_model.py"], "test.csv"),
    ("adult_train.csv.gz", ["adult_test.csv.gz", "other_test.csv"], "adult_test.csv.gz"),
    ("Training.parquet", ["Testing.parquet"], "Testing.parquet"),
    ("credit.csv", ["credit_test.csv"], "credit_test.csv"),
    ("credit.csv", ["holdout-test.tsv"], "holdout-test.tsv"),
    ("credit.csv", ["test_model.py", "test_data.json"], None),
    ("credit.csv", ["a_test.csv", "b_test.csv"], None),   # two candidates: not a guess
    ("credit.csv", [], None),
])
def test_find_test_file(tmp_path, train, beside, expected):
    for name in [train, *beside]:
        (tmp_path / name).write_text("x\n")
    found = find_test_file(tmp_path / train)
    assert (found.name if found else None) == expected


def test_a_test_file_with_other_columns_is_not_taken(tmp_path, adult_train, capsys):
    adult_train.head(100).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "mlqa.yaml"
    assert _init("--data", str(tmp_path / "train.csv"), "--model", str(MODEL), "--out", str(out)) == 0
    assert "ignored test.csv beside train.csv: its columns differ" in capsys.readouterr().err
    assert load_config(out).data.test is None
    assert _init("--data", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--model",
                 str(MODEL), "--out", str(out), "--force") == 2
    assert "have different columns" in capsys.readouterr().err


def test_a_headered_file_with_a_suffix_gate_does_not_read_is_converted(tmp_path, adult_train, capsys):
    adult_train.head(100).to_csv(tmp_path / "credit.data", index=False, sep=";")
    out = tmp_path / "mlqa.yaml"
    assert _init("--data", str(tmp_path / "credit.data"), "--model", str(MODEL), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "not .data" in err and "separated by ';'" in err and "no header row" not in err
    config = load_config(out)
    assert config.data.label == "income" and list(pd.read_csv(config.data.train).columns) == list(adult_train.columns)


def test_headerless_without_names_gets_numbered_columns_and_the_last_is_the_label(tmp_path, capsys):
    (tmp_path / "points.csv").write_text("".join(f"{i},{i * 2.5},{'a' if i % 3 else 'b'}\n" for i in range(30)))
    out = tmp_path / "mlqa.yaml"
    assert _init("--data", str(tmp_path / "points.csv"), "--model", str(MODEL), "--out", str(out)) == 0
    assert "columns named column_1..column_N" in capsys.readouterr().err
    config = load_config(out)
    assert config.data.label == "column_3"
    assert len(pd.read_csv(config.data.train)) == 30


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\n\n  \n", "the file is empty"),
    (b"age,income\n", "no rows (only a header)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
    (b"a,b\n\x00\x01,\x02\n", "binary data"),
    (b"caf\xe9,ok\n1,2\n", "not UTF-8 text"),
])
def test_empty_or_unreadable_data_is_exit_2_with_a_message(tmp_path, content, message, capsys):
    (tmp_path / "train.csv").write_bytes(content)
    assert _init("--data", str(tmp_path / "train.csv"), "--model", str(MODEL), "--out",
                 str(tmp_path / "mlqa.yaml")) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "mlqa.yaml").exists()


def test_unreadable_compressed_and_parquet_files_are_exit_2(tmp_path, capsys):
    (tmp_path / "train.csv.gz").write_bytes(b"not gzip at all")
    (tmp_path / "train.parquet").write_bytes(b"PAR1 nope")
    for name in ("train.csv.gz", "train.parquet"):
        assert _init("--data", str(tmp_path / name), "--model", str(MODEL), "--out", str(tmp_path / "m.yaml")) == 2
        err = capsys.readouterr().err
        assert "cannot be read" in err and "Traceback" not in err
    (tmp_path / "folder.csv").mkdir()
    assert _init("--data", str(tmp_path / "folder.csv"), "--model", str(MODEL), "--out",
                 str(tmp_path / "m.yaml")) == 2


def test_compressed_headerless_file_is_sniffed_through_its_compression(tmp_path):
    with gzip.open(tmp_path / "points.data.gz", "wt") as fh:
        fh.write("".join(f"{i}, {i % 2}\n" for i in range(20)))
    sniffed = sniff(tmp_path / "points.data.gz")
    assert not sniffed.header and sniffed.width == 2


def test_read_names_of_a_c45_file(tmp_path):
    (tmp_path / "adult.names").write_text(NAMES)
    names = read_names(tmp_path / "adult.names")
    assert names.attributes == tuple(COLUMNS) and names.classes == (">50K", "<=50K")


# ---------------------------------------------------------------- header or not
_WORD = st.text(alphabet=string.ascii_letters + "-_ ", min_size=1, max_size=10).map(str.strip).filter(bool)


@st.composite
def tables(draw):
    """(rows as text cells, header names): at least one numeric column, some categorical
    ones drawn from a small vocabulary (values repeat, as in real data)."""
    n_rows = draw(st.integers(3, 25))
    n_num = draw(st.integers(1, 3))
    n_cat = draw(st.integers(0, 3))
    vocab = draw(st.lists(_WORD, min_size=2, max_size=4, unique=True))
    columns = []
    for _ in range(n_num):
        columns.append([str(v) for v in draw(st.lists(st.one_of(st.integers(-10**6, 10**6),
                                                                 st.floats(-1e6, 1e6, allow_nan=False)),
                                                       min_size=n_rows, max_size=n_rows))])
    for _ in range(n_cat):
        columns.append(draw(st.lists(st.sampled_from(vocab), min_size=n_rows, max_size=n_rows)))
    order = draw(st.permutations(range(len(columns))))
    columns = [columns[i] for i in order]
    names = draw(st.lists(_WORD.filter(lambda w: w not in vocab), min_size=len(columns),
                          max_size=len(columns), unique=True))
    rows = [[c[i] for c in columns] for i in range(n_rows)]
    return rows, names


@settings(max_examples=150)
@given(tables())
def test_has_header_tells_a_header_from_a_first_row_of_data(table):
    rows, names = table
    assert has_header([names, *rows]) is True
    assert has_header(rows) is False
