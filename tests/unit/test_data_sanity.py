"""Data that cannot support a verdict is a config error (exit 2) naming the split's file,
the config line and what to do — never a pass: a header-only split, a label with a single
value, a test set that is the training set."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa.cli import main
from mlqa.config import load_config
from mlqa.context import build_context
from mlqa.errors import ConfigError

CONFIG = """version: 1
data:
  train: train.csv
  test: test.csv
  label: label
{extra}checks:
  - data.missing: {{max_fraction: 0.5}}
gates:
  production: {{blocking: ["*"]}}
"""


def frame(n: int = 60, seed: int = 0, label=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    return pd.DataFrame({"x": x, "city": rng.choice(["a", "b", "c"], n),
                         "label": (x > 0.5).astype(int) if label is None else label})


def project(tmp_path: Path, train: pd.DataFrame, test: pd.DataFrame, extra: str = "") -> Path:
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    path = tmp_path / "mlqa.yaml"
    path.write_text(CONFIG.format(extra=extra))
    return path


def error_of(path: Path) -> ConfigError:
    config = load_config(path)  # the config itself is valid: the data is what is wrong
    with pytest.raises(ConfigError) as err:
        build_context(config)
    return err.value


@pytest.mark.parametrize("split, line", [("test", 4), ("train", 3)])
def test_a_header_only_split_is_an_error_naming_its_file_and_line(tmp_path, split, line):
    splits = {"train": frame(), "test": frame(seed=1)}
    splits[split] = splits[split].iloc[:0]
    err = error_of(project(tmp_path, splits["train"], splits["test"]))
    assert err.file.endswith("mlqa.yaml") and err.line == line
    assert f"the {split} data {split}.csv has no rows" in err.problem and err.hint


def test_a_header_only_test_set_exits_2_not_a_pass(tmp_path, capsys):
    cfg = project(tmp_path, frame(), frame().iloc[:0])
    assert main(["run", str(cfg)]) == 2
    assert "mlqa.yaml:4: the test data test.csv has no rows" in capsys.readouterr().err


@pytest.mark.parametrize("label", [0, 1, "yes"])
def test_a_single_class_label_is_an_error(tmp_path, label):
    err = error_of(project(tmp_path, frame(label=label), frame(seed=1, label=label)))
    assert err.line == 5 and "single value" in err.problem and f"{label!r}" in err.problem
    assert "train.csv" in err.problem and "stratif" in err.hint


def test_a_single_class_label_with_its_positive_label_declared_is_an_error(tmp_path):
    err = error_of(project(tmp_path, frame(label=1), frame(seed=1, label=1), extra="  positive_label: 1\n"))
    assert err.line == 5 and "single value" in err.problem


def test_a_test_set_with_one_class_is_an_error_even_when_train_has_two(tmp_path):
    err = error_of(project(tmp_path, frame(), frame(seed=1, label=0)))
    assert err.line == 5 and "test data test.csv" in err.problem and "single value" in err.problem


def test_a_label_without_any_value_is_an_error(tmp_path):
    err = error_of(project(tmp_path, frame(label=np.nan), frame(seed=1, label=np.nan)))
    assert err.line == 5 and "no values" in err.problem


def test_a_constant_regression_target_is_an_error(tmp_path):
    err = error_of(project(tmp_path, frame(label=2.5), frame(seed=1, label=2.5), extra="  task: regression\n"))
    assert err.line == 5 and "single value" in err.problem and "regress" in err.problem


@pytest.mark.parametrize("how", ["copy", "shuffled"])
def test_a_test_set_identical_to_train_is_an_error(tmp_path, how):
    train = frame(200)
    test = train if how == "copy" else train.sample(frac=1.0, random_state=3)
    err = error_of(project(tmp_path, train, test))
    assert err.line == 4 and "test.csv holds the same rows as the train data train.csv" in err.problem
    assert "held-out" in err.hint


def test_a_test_set_that_differs_by_one_row_is_fine(tmp_path):
    train = frame(200)
    test = train.copy()
    test.loc[0, "x"] = 0.123456
    ctx = build_context(load_config(project(tmp_path, train, test)))
    assert len(ctx.test) == 200 and ctx.labels == [0, 1]


def test_a_label_missing_from_a_split_is_a_config_error(tmp_path):
    cfg = project(tmp_path, frame(), frame(seed=1).drop(columns="label"))
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert err.value.line == 4 and "different columns: ['label']" in err.value.problem


def test_only_the_declared_splits_are_checked(tmp_path):
    cfg = project(tmp_path, frame(), frame())
    cfg.write_text(cfg.read_text().replace("  test: test.csv\n", ""))
    ctx = build_context(load_config(cfg))
    assert ctx.test is None and len(ctx.train) == 60


def test_the_credit_example_data_passes_quickly(adult_train, adult_test):
    from mlqa._data_sanity import check_splits
    from mlqa.subjects import Dataset
    def ds(name, f):
        return Dataset(name=name, frame=f, label="income", features=tuple(c for c in f.columns if c != "income"))
    check_splits(ds("train", adult_train), ds("test", adult_test), task="classification")
    same = adult_train.sample(frac=1.0, random_state=0)
    with pytest.raises(ConfigError, match="same rows"):
        check_splits(ds("train", adult_train), ds("test", same), task="classification")


def test_the_models_already_started_are_closed_before_the_error(toy_project, monkeypatch):
    from mlqa import subjects
    closed = []
    real = subjects.RemoteModel.close
    monkeypatch.setattr(subjects.RemoteModel, "close", lambda self: closed.append(self.name) or real(self))
    cfg = toy_project("- acme.ok: {}")
    (cfg.parent / "test.csv").write_bytes((cfg.parent / "train.csv").read_bytes())
    with pytest.raises(ConfigError, match="same rows"):
        build_context(load_config(cfg))
    assert closed == ["model"]


def test_list_valued_columns_are_compared_as_text_not_a_crash(tmp_path):
    """Parquet splits of equal size with a list column (tags): the row comparison used to
    raise TypeError outside any check (exit 3)."""
    train, test = frame(40, seed=1), frame(40, seed=2)
    train["tags"], test["tags"] = [[i, i + 1] for i in range(40)], [[i] for i in range(40)]
    train.to_parquet(tmp_path / "train.parquet")
    test.to_parquet(tmp_path / "test.parquet")
    path = tmp_path / "mlqa.yaml"
    path.write_text(CONFIG.format(extra="").replace("train.csv", "train.parquet").replace("test.csv", "test.parquet"))
    build_context(load_config(path))  # different rows: fine
    train.to_parquet(tmp_path / "test.parquet")
    with pytest.raises(ConfigError, match="same rows"):
        build_context(load_config(path))
