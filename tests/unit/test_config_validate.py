"""Config mistakes a new user makes on day one, each an exit-2 error at its line with what
to do — and `mlqa validate`, which finds them without running anything."""
from __future__ import annotations

import pickle

import pytest

from mlqa.cli import main
from mlqa.config import load_config
from mlqa.errors import ConfigError

BASE = """\
version: 1
data: {train: train.csv, test: test.csv, label: label, positive_label: 1}
"""


@pytest.fixture
def project(tmp_path, write_config):
    """write(text) -> mlqa.yaml beside train.csv / test.csv (columns age, city, label)."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 90, 200), "city": rng.choice(["a", "b", "c"], 200),
                          "label": rng.integers(0, 2, 200)})
    frame.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[150:].to_csv(tmp_path / "test.csv", index=False)
    return lambda text: write_config(BASE + text)


def _error(path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value


# ------------------------------------------------------------------ checks: []
def test_an_empty_checks_list_is_an_error_at_its_line(project, tmp_path, capsys):
    """Today: `mlqa: error: no check matches None; see checks: in ...` (no line)."""
    path = project("checks: []\ngates:\n  production: {blocking: ['*']}\n")
    assert main(["gate", str(path), "--stage", "production", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: no checks to run" in err and "mlqa checks" in err and "None" not in err
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}:3: no checks to run" in capsys.readouterr().err


def test_an_only_glob_that_matches_nothing_still_says_so(project, tmp_path, capsys):
    path = project("checks:\n  - data.drift\n")
    assert main(["run", str(path), "--only", "zzz.*", "--out", str(tmp_path / "o")]) == 2
    assert "no check matches ['zzz.*']" in capsys.readouterr().err


# ------------------------------------------------------------------ secrets
@pytest.mark.parametrize("endpoint, line, where", [
    ("endpoint:\n  url: http://127.0.0.1:1\n  token: s3cret\n", 6, "`endpoint.token`"),
    ("endpoint:\n  url: http://127.0.0.1:1\n  auth: {token: s3cret}\n", 6, "`endpoint.auth.token`"),
    ("endpoint:\n  url: http://127.0.0.1:1\n  api_key: s3cret\n", 6, "`endpoint.api_key`"),
])
def test_a_token_written_into_the_config_points_at_token_env(project, endpoint, line, where):
    """Today `token:` under `endpoint` was "unknown key `token`" with no pointer to token_env."""
    err = _error(project("checks: [data.drift]\n" + endpoint))
    assert err.line == line and where in err.problem and "secrets are not written into the config" in err.problem
    assert "token_env: NAME_OF_ENV_VAR" in err.hint and "s3cret" not in str(err)


def test_token_env_in_the_wrong_place_says_where_it_goes(project):
    err = _error(project("checks: [data.drift]\nendpoint:\n  url: http://127.0.0.1:1\n  token_env: T\n"))
    assert err.line == 6 and "belongs under `endpoint.auth`" in err.problem


@pytest.mark.parametrize("timeout", ["-5", "0", ".nan", "abc", "true"])
def test_endpoint_timeout_must_be_a_positive_number(project, timeout):
    err = _error(project(f"checks: [data.drift]\nendpoint:\n  url: http://127.0.0.1:1\n  timeout: {timeout}\n"))
    assert err.line == 6 and "`endpoint.timeout`" in err.problem


# ------------------------------------------------------------------ one column for a list
@pytest.mark.parametrize("written", ["sensitive: city", "sensitive: [city]"])
def test_one_sensitive_column_reads_as_a_list(project, written):
    """`sensitive: race`, as DESIGN.md writes it, was refused (a list was expected)."""
    config = load_config(project(f"checks:\n  - fairness.demographic_parity: {{{written}}}\n"))
    assert config.checks[0].params["sensitive"] == ["city"]


def test_one_column_that_is_not_in_the_data_is_named(project):
    err = _error(project("checks:\n  - fairness.demographic_parity:\n      sensitive: race\n"))
    assert err.line == 5 and "column `race`" in err.problem


# ------------------------------------------------------------------ model files that are not models
NOT_MODELS = {"text": b"hello, this is not a model\n", "empty": b"", "garbage": bytes(range(1, 200)),
              "csv": b"age,city,label\n25,a,0\n", "truncated pickle": pickle.dumps({"a": [1, 2]}, protocol=0)[:-4]}


@pytest.mark.parametrize("kind", sorted(NOT_MODELS))
def test_a_model_path_that_is_not_a_model_is_a_config_error_stated_once(project, tmp_path, kind, capsys):
    """Today: a block (exit 1), the scanner's reason repeated in every check that needed it."""
    (tmp_path / "model.pkl").write_bytes(NOT_MODELS[kind])
    path = project("model: {path: model.pkl}\nchecks:\n  - performance.calibration\n"
                   "gates:\n  production: {blocking: ['*']}\n")
    err = _error(path)
    assert err.line == 3 and err.problem.startswith("model.pkl is not a model file: ") and "skops" in err.hint
    assert main(["gate", str(path), "--stage", "production", "--out", str(tmp_path / "o")]) == 2
    out = capsys.readouterr().err
    assert out.count("is not a model file") == 1 and not (tmp_path / "o").exists()


def test_a_directory_as_model_path_is_a_config_error(project, tmp_path):
    (tmp_path / "models").mkdir()
    err = _error(project("baseline: {path: models}\nchecks: [data.drift]\n"))
    assert err.line == 3 and "is a directory" in err.problem


class _Payload:
    def __reduce__(self):
        import os
        return os.system, ("true",)


@pytest.mark.parametrize("protocol", [0, 4])
def test_a_malicious_pickle_is_still_blocked_by_the_scan_with_its_findings(project, tmp_path, protocol, capsys):
    """The clean twin of the above: a real (malicious) pickle loads as a config and is
    blocked (exit 1) by the scan, the finding named — never waved through as a config error."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Payload(), protocol=protocol))
    path = project("model: {path: model.pkl}\nchecks:\n  - performance.calibration\n"
                   "gates:\n  production: {blocking: ['*']}\n")
    assert load_config(path).model.path.name == "model.pkl"
    assert main(["gate", str(path), "--stage", "production", "--out", str(tmp_path / "o")]) == 1
    assert "system" in capsys.readouterr().err


# ------------------------------------------------------------------ mlqa validate
def test_validate_a_valid_config_prints_one_line(project, capsys):
    path = project("checks:\n  - data.drift\n  - data.missing[strict]: {max_fraction: 0.01}\n"
                   "gates:\n  staging: {advisory: ['*']}\n")
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "valid: 2 checks (data 2); stages: staging; subjects: data" in lines[0]
    assert captured.out == "" and not (path.parent / "mlqa-out").exists()


@pytest.mark.parametrize("checks, line, message", [
    ("  - data.drift: {max_psi: -5}", 4, "data.drift.max_psi must be >= 0"),
    ("  - data.drfit", 4, "unknown check id `data.drfit`"),
])
def test_validate_an_invalid_config_exits_2_with_file_and_line(project, capsys, checks, line, message):
    path = project("checks:\n" + checks + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {message}" in err


def test_validate_says_when_there_is_nothing_to_run(project, capsys):
    assert main(["validate", str(project("checks: []\n"))]) == 0
    assert "no checks (line 3" in capsys.readouterr().err
