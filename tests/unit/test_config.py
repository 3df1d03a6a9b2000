"""Every config error names the file, the line and, for names, the nearest valid one."""
from pathlib import Path

import pytest

from mlqa.config import load_config
from mlqa.errors import ConfigError

BASE = """
version: 1
data:
  train: {train}
  test: {test}
  label: label
checks:
{checks}
gates:
  production: {{blocking: ["*"]}}
"""


def cfg(write_config, small_csvs, checks: str, **extra) -> Path:
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks=checks)
    for key, value in extra.items():
        text = text.replace(f"\n{key}:", f"\n{key}:{value}")
    return write_config(text)


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value


def test_valid_config_loads(write_config, small_csvs):
    config = load_config(cfg(write_config, small_csvs, "  - data.missing: {max_fraction: 0.1}\n  - data.drift"))
    assert [c.key for c in config.checks] == ["data.missing", "data.drift"]
    assert config.checks[0].params["max_fraction"] == 0.1
    assert config.checks[1].params["max_psi"] == 0.2          # documented default
    assert config.data.train.is_absolute()


def test_typo_in_check_id_names_line_and_suggestion(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - data.missing: {}\n  - data.drfit: {max_psi: 0.1}"))
    assert err.line == 8 and "unknown check id `data.drfit`" in str(err)
    assert "did you mean `data.drift`?" in str(err) and str(err).startswith(str(err.file))


def test_unknown_parameter_suggests_the_nearest(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - data.drift: {max_pis: 0.1}"))
    assert err.line == 7 and "unknown parameter `max_pis`" in str(err) and "`max_psi`" in str(err)


def test_wrong_type_names_the_parameter(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - data.drift:\n      max_psi: high"))
    assert err.line == 8 and "data.drift.max_psi must be float" in str(err)


def test_missing_column_in_data_section(write_config, small_csvs):
    train, test = small_csvs
    path = write_config(BASE.format(train=train.name, test=test.name, checks="  - data.drift")
                        .replace("label: label", "label: lable"))
    err = error_of(path)
    assert err.line == 5 and "column `lable`" in str(err) and "did you mean `label`?" in str(err)


def test_missing_column_in_check_parameter(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - data.drift: {columns: [age, citty]}"))
    assert err.line == 7 and "column `citty`" in str(err) and "`city`" in str(err)


def test_missing_file_is_named_with_its_resolved_path(write_config, small_csvs):
    train, _ = small_csvs
    path = write_config(BASE.format(train=train.name, test="nope.csv", checks="  - data.drift"))
    err = error_of(path)
    assert err.line == 4 and "test data file not found: nope.csv" in str(err)
    assert str(path.parent / "nope.csv") in str(err) and "relative to the folder" in str(err)


def test_unknown_top_level_key(write_config, small_csvs):
    train, test = small_csvs
    path = write_config(BASE.format(train=train.name, test=test.name, checks="  - data.drift")
                        + "gate:\n  x: {}\n")
    err = error_of(path)
    assert err.line == 10 and "unknown key `gate`" in str(err) and "`gates`" in str(err)


def test_secrets_only_by_environment_variable(write_config, small_csvs):
    train, test = small_csvs
    path = write_config(BASE.format(train=train.name, test=test.name, checks="  - data.drift")
                        + "endpoint:\n  url: http://127.0.0.1:1\n  auth: {header: Authorization, token: s3cret}\n")
    err = error_of(path)
    assert "secrets are not written into the config" in str(err) and "token_env" in str(err)


def test_same_check_twice_needs_instance_names(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - data.drift\n  - data.drift: {max_psi: 0.1}"))
    assert err.line == 8 and "appears twice" in str(err) and "data.drift[name]" in str(err)
    ok = load_config(cfg(write_config, small_csvs, "  - data.drift[strict]: {max_psi: 0.1}\n  - data.drift"))
    assert [c.key for c in ok.checks] == ["data.drift[strict]", "data.drift"]


def test_metric_needs_a_bound(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, "  - performance.metric: {metric: accuracy}"))
    assert err.line == 7 and "set `min`" in str(err)


def test_waiver_must_be_accountable(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift").replace(
        'production: {blocking: ["*"]}',
        'production:\n    waivers:\n      - {check: data.drift, reason: known}')
    err = error_of(write_config(text))
    assert err.line == 11 and "missing: owner, expires" in str(err)


def test_waiver_date_must_be_a_date(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift").replace(
        'production: {blocking: ["*"]}',
        'production:\n    waivers:\n      - {check: data.drift, reason: r, owner: o, expires: "soon"}')
    err = error_of(write_config(text))
    assert "YYYY-MM-DD" in str(err)


def test_version_is_required(write_config, small_csvs):
    train, test = small_csvs
    err = error_of(write_config(BASE.format(train=train.name, test=test.name, checks="  - data.drift")
                                .replace("version: 1\n", "")))
    assert "`version` must be 1" in str(err)


def test_unknown_stage_suggests(write_config, small_csvs):
    config = load_config(cfg(write_config, small_csvs, "  - data.drift"))
    with pytest.raises(ConfigError, match="did you mean `production`"):
        config.stage("prodution")


def test_plugin_that_does_not_import(write_config, small_csvs):
    err = error_of(_with_plugin(write_config, small_csvs, "no_such_mod"))
    assert "cannot import plugin `no_such_mod`" in str(err) and err.line == 6


def _with_plugin(write_config, small_csvs, name):
    train, test = small_csvs
    return write_config(BASE.format(train=train.name, test=test.name, checks="  - data.drift")
                        .replace("checks:", f"plugins: [{name}]\nchecks:"))


def test_model_file_and_format(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift")
    err = error_of(write_config(text + "model: {path: model.onnx}\n"))
    assert "model file not found: model.onnx" in str(err) and err.line == 10
    (train.parent / "m.bin").write_bytes(b"x")
    err = error_of(write_config(text + "model: {path: m.bin, format: onx}\n"))
    assert "unknown model format `onx`" in str(err) and "skops" in str(err)


def test_include_a_preset_and_override_its_entries(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift: {max_psi: 0.05}")
    config = load_config(write_config(text.replace("version: 1\n", "version: 1\ninclude: tabular-classifier\n")))
    keys = [c.key for c in config.checks]
    assert keys[:3] == ["data.schema", "data.missing", "data.single_value"] and "privacy.pii" in keys
    assert keys.count("data.drift") == 1
    assert next(c for c in config.checks if c.key == "data.drift").params["max_psi"] == 0.05


def test_unknown_preset_suggests(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift")
    err = error_of(write_config(text.replace("version: 1\n", "version: 1\ninclude: [tabular-clasifier]\n")))
    assert err.line == 2 and "unknown preset" in str(err) and "`tabular-classifier`" in str(err)


def test_errors_inside_a_local_preset_name_the_preset_file(write_config, small_csvs):
    train, test = small_csvs
    (train.parent / "team.yaml").write_text("checks:\n  - data.drift: {}\n  - data.dirft: {}\n")
    text = BASE.format(train=train.name, test=test.name, checks="  - data.missing")
    err = error_of(write_config(text.replace("version: 1\n", "version: 1\ninclude: ./team.yaml\n")))
    assert err.file.endswith("team.yaml") and err.line == 3 and "`data.drift`" in str(err)


def test_every_shipped_preset_loads(write_config, small_csvs):
    from mlqa.config import presets
    train, test = small_csvs
    for name in presets():
        text = BASE.format(train=train.name, test=test.name, checks="  - data.drift")
        config = load_config(write_config(text.replace("version: 1\n", f"version: 1\ninclude: {name}\n")))
        assert len(config.checks) > 10, name


ENDPOINT = "\nendpoint:\n  url: {url}\n  replicas: {replicas}\n"


def with_endpoint(write_config, small_csvs, url: str, replicas="1") -> Path:
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, checks="  - data.drift") + ENDPOINT.format(
        url=url, replicas=replicas)
    return write_config(text)


def test_endpoint_url_takes_environment_variables(write_config, small_csvs, monkeypatch):
    path = with_endpoint(write_config, small_csvs, "${MLQA_T_URL:-http://127.0.0.1:1}/")
    monkeypatch.delenv("MLQA_T_URL", raising=False)
    assert load_config(path).endpoint["url"] == "http://127.0.0.1:1/"
    monkeypatch.setenv("MLQA_T_URL", "http://10.0.0.7:9000")
    assert load_config(path).endpoint["url"] == "http://10.0.0.7:9000/"


def test_unset_variable_without_default_names_the_line(write_config, small_csvs, monkeypatch):
    monkeypatch.delenv("MLQA_T_URL", raising=False)
    err = error_of(with_endpoint(write_config, small_csvs, "http://${MLQA_T_URL}"))
    assert err.line == 12 and "MLQA_T_URL is not set" in str(err) and "${MLQA_T_URL:-" in str(err)


@pytest.mark.parametrize("replicas", ["0", "two", "1.5"])
def test_replicas_must_be_a_positive_whole_number(write_config, small_csvs, replicas):
    err = error_of(with_endpoint(write_config, small_csvs, "http://127.0.0.1:1", replicas))
    assert err.line == 13 and "endpoint.replicas" in str(err)
