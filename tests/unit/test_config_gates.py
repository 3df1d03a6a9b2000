"""Stage globs fail closed: a glob of `blocking`, `advisory` or a waiver's `check` that names
no configured check is a config error at its line, with the nearest ids — never a check
silently left advisory (or unwaived) by a typo."""
from pathlib import Path

import pytest

from mlqa.config import load_config
from mlqa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

BASE = """
version: 1
data:
  train: {train}
  test: {test}
  label: label
checks:
  - data.missing: {{max_fraction: 0.1}}
  - data.drift: {{}}
  - performance.metric[auc]: {{metric: roc_auc, min: 0.5}}
gates:
{gates}
"""


def cfg(write_config, small_csvs, gates: str) -> Path:
    train, test = small_csvs
    return write_config(BASE.format(train=train.name, test=test.name, gates=gates))


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value


def test_a_typo_in_a_blocking_glob_is_an_error_at_its_line_with_the_nearest_ids(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs,
                       '  staging:\n    blocking:\n      - "performance.*"\n      - "dta.*"\n    advisory: ["*"]'))
    assert err.line == 14 and err.file.endswith("mlqa.yaml")
    assert "`dta.*`" in err.problem and "gates.staging.blocking" in err.problem
    assert "matches no configured check" in err.problem
    assert "`data.*`" in err.hint


def test_a_typo_in_an_advisory_glob_is_an_error(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, '  staging: {blocking: ["data.*"], advisory: ["perfomance.*"]}'))
    assert err.line == 11 and "`perfomance.*`" in err.problem and "`performance.*`" in err.hint


def test_a_waiver_for_no_configured_check_is_an_error(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs,
                       "  production:\n    waivers:\n      - check: data.drfit\n        reason: r\n"
                       "        owner: o\n        expires: 2099-01-01"))
    assert err.line == 13 and "`data.drfit` (gates.production.waivers[0].check)" in err.problem
    assert "`data.drift`" in err.hint


@pytest.mark.parametrize("glob", ["*", "data.*", "data.missing", "performance.metric", "performance.metric[auc]",
                                  "performance.metric*", "*.drift", "performance.metric[*]", "data.mis?ing"])
def test_globs_that_name_a_configured_key_or_id_load(write_config, small_csvs, glob):
    config = load_config(cfg(write_config, small_csvs,
                             f'  staging: {{blocking: ["{glob}"], advisory: ["*"]}}\n'
                             f'  production:\n    waivers:\n      - {{check: "{glob}", reason: r, owner: o, '
                             f'expires: 2099-01-01}}'))
    assert config.gates["staging"].blocking == (glob,)


def test_star_is_valid_even_without_checks(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, gates='  production: {blocking: ["*"]}')
    config = load_config(write_config(text.split("checks:")[0] + 'checks: []\ngates:\n  production: {blocking: ["*"]}\n'))
    assert config.checks == () and config.gates["production"].blocking == ("*",)


def test_globs_see_the_checks_of_included_presets(write_config, small_csvs):
    train, test = small_csvs
    text = BASE.format(train=train.name, test=test.name, gates='  production: {blocking: ["privacy.*"]}')
    with pytest.raises(ConfigError, match="`privacy.*`"):
        load_config(write_config(text))
    config = load_config(write_config(text.replace("version: 1\n", "version: 1\ninclude: tabular-classifier\n")))
    assert config.gates["production"].blocking == ("privacy.*",)


def test_a_glob_error_names_the_included_ids_when_nothing_is_near(write_config, small_csvs):
    err = error_of(cfg(write_config, small_csvs, '  production: {blocking: ["zzz_unrelated"]}'))
    assert "data.missing" in err.hint and "performance.metric[auc]" in err.hint


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in
                                        [*(ROOT / "examples").glob("*/*.yaml"), *(ROOT / "bench").glob("*.yaml")]
                                        if "version: 1" in p.read_text()))
def test_every_example_config_still_loads(path):
    config = load_config(ROOT / path)
    assert config.checks and config.gates
