"""Every experiment-file error names the file and the line and, for names, the nearest valid
one; every shipped experiment validates."""
from __future__ import annotations

from pathlib import Path

import pytest
from experiment_texts import BASE, TRAINING

from mlqa.chaos import load_experiment
from mlqa.cli import main
from mlqa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "chaos" / "experiments").glob("*.yaml"))




def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    return err.value


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def edit(old: str, new: str, base: str = BASE) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


def assert_at(err: ConfigError, path: Path, line: int, *fragments: str) -> None:
    text = str(err)
    assert text.startswith(f"{path}:{line}:"), text
    assert err.file == str(path) and err.line == line
    for fragment in fragments:
        assert fragment in text, (fragment, text)


# ------------------------------------------------------------------ the shipped files
def test_the_experiments_folder_is_not_empty():
    assert len(SHIPPED) >= 5, SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_experiment_loads(path):
    exp = load_experiment(path)
    assert exp.method and exp.verdict and exp.steady_state
    assert exp.path == path and exp.target.kind == "stack"
    assert all(f.duration > 0 for f in exp.method)


def test_cli_validate_accepts_every_shipped_file(capsys):
    assert main(["chaos", "validate", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out
    for path in SHIPPED:
        assert f"{path}: ok" in out


def test_base_and_training_examples_are_valid(tmp_path):
    exp = load_experiment(write(tmp_path, BASE))
    assert exp.name == "unit_probe" and exp.method[0].at == 2.0 and exp.method[0].duration == 6.0
    assert exp.stop_conditions[0].for_s == 3.0 and exp.verdict[0].value == pytest.approx(0.99)
    exp = load_experiment(write(tmp_path, TRAINING, "t.yaml"))
    assert exp.method[0].at_step == 40 and exp.verdict[1].other == "checkpoint_interval"


def test_the_name_defaults_to_the_file_stem(tmp_path):
    exp = load_experiment(write(tmp_path, edit("name: unit_probe\n", ""), "my-zone-test.yaml"))
    assert exp.name == "my_zone_test"


# ------------------------------------------------------------------ malformed files
def test_typo_in_fault_name_suggests_the_nearest(tmp_path):
    text = edit("fault: zone-outage", "fault: zone-outgae")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "zone-outgae"), "unknown fault `zone-outgae`",
              "hint: did you mean `zone-outage`?")


def test_unknown_top_level_key(tmp_path):
    text = BASE + "verdcit: []\n"
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "verdcit"), "unknown key `verdcit`",
              "did you mean `verdict`?")


def test_unknown_selector_key(tmp_path):
    text = edit("{zone: zone-a}", "{zoen: zone-a}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "zoen"), "unknown key `zoen`", "did you mean `zone`?")


def test_missing_selector(tmp_path):
    text = edit("    select: {zone: zone-a}\n", "")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "fault: zone-outage"), "needs a selector",
              "select: {zone: NAME}")


@pytest.mark.parametrize("value", ["-5s", "-5"])
def test_negative_duration(tmp_path, value):
    text = edit("duration: 6s", f"duration: {value}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "duration:"), "duration")


@pytest.mark.parametrize("value", ["0s", "0", "0ms"])
def test_zero_duration(tmp_path, value):
    text = edit("duration: 6s", f"duration: {value}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "duration:"), "`duration` must be above zero")


def test_missing_duration_names_the_reverse(tmp_path):
    text = edit("    duration: 6s\n", "")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "fault: zone-outage"), "needs `duration`",
              "restart the zone's nodes")


def test_at_and_at_step_together(tmp_path):
    text = edit("    at_step: 40\n", "    at: 2s\n    at_step: 40\n", TRAINING)
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "fault: node-kill"), "`at`", "`at_step`", "not both")


def test_at_step_without_a_training_probe(tmp_path):
    text = edit("    at: 2s\n", "    at_step: 10\n")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "at_step"), "needs a `training` probe")


def test_unknown_probe_kind(tmp_path):
    text = edit("  - load: {rate: 40/s}\n", "  - load: {rate: 40/s}\n  - lod: {rate: 40/s}\n")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "lod:"), "unknown probe `lod`", "did you mean `load`?")


def test_a_second_load_probe(tmp_path):
    text = edit("  - load: {rate: 40/s}\n", "  - load: {rate: 40/s}\n  - load: {rate: 10/s}\n")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "rate: 10/s"), "one `load` probe per experiment")


def test_a_bad_slo_string(tmp_path):
    text = edit("{rate: 40/s}", '{rate: 40/s, slo: ["error_rat < 1%"]}')
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "error_rat"), "error_rat < 1%")


def test_a_bad_prometheus_expr(tmp_path):
    text = edit("  - load: {rate: 40/s}\n",
                "  - load: {rate: 40/s}\n"
                "  - prometheus:\n"
                "      url: http://127.0.0.1:1/metrics\n"
                "      expr: rate(m_total) < 1\n")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "expr:"), "`rate(m_total)` is not a metric selector")


def test_a_verdict_on_an_unknown_figure_suggests_the_nearest(tmp_path):
    text = edit("availability >= 99%", "availabilty >= 99%")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "availabilty"), "unknown figure `availabilty`",
              "did you mean `availability`?")


def test_a_verdict_figure_whose_probe_is_missing(tmp_path):
    text = (edit("  - load: {rate: 40/s}\n", "  - http: {url: 'http://127.0.0.1:1/'}\n")
            .replace("stop_conditions:\n  - success_rate < 50% for 3s\n", ""))
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "availability"),
              "`availability` is measured by a `load` probe", "hint: add `- load: {...}` to steady_state")


def test_a_figure_compared_with_a_figure_whose_probe_is_missing(tmp_path):
    text = edit("availability >= 99%", "p99_fault <= p99_steady")
    text = edit("  - load: {rate: 40/s}\n", "  - http: {url: 'http://127.0.0.1:1/'}\n", text)
    text = text.replace("stop_conditions:\n  - success_rate < 50% for 3s\n", "")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "p99_fault"), "measured by a `load` probe")


def test_a_stop_condition_on_success_rate_without_a_load_probe(tmp_path):
    text = edit("  - load: {rate: 40/s}\n", "  - http: {url: 'http://127.0.0.1:1/'}\n")
    text = edit("availability >= 99%", "time_to_recover <= 30s", text)
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "success_rate < 50%"),
              "`success_rate` is measured by a `load` probe")


def test_a_bare_share_above_one_suggests_a_percentage(tmp_path):
    text = edit("availability >= 99%", "availability >= 99.9")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "99.9"), "did you mean 99.9%?")


def test_a_duration_figure_with_a_percentage(tmp_path):
    text = edit("availability >= 99%", "time_to_detect <= 5%")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "time_to_detect"), "`time_to_detect` is a duration",
              "500ms or 2s")


def test_a_bool_figure_with_an_ordering_operator(tmp_path):
    text = edit("training_completed == true", "training_completed >= true", TRAINING)
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "training_completed"), "compare it with == or !=")


@pytest.mark.parametrize("verdict", ["verdict: []\n", "verdict:\n"])
def test_an_empty_verdict(tmp_path, verdict):
    text = edit("verdict:\n  - availability >= 99%\n", verdict)
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "verdict:"), "an experiment without one proves nothing")


def test_a_missing_verdict(tmp_path):
    text = edit("verdict:\n  - availability >= 99%\n", "")
    path = write(tmp_path, text)
    err = error_of(path)
    assert str(err).startswith(f"{path}:1:") and "proves nothing" in str(err)


def test_a_processes_target_with_a_stack_only_fault(tmp_path):
    text = edit("target: {stack: local}", "target: {processes: {app: {pid: 12345}}}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "fault: zone-outage"), "`zone-outage` needs the reference stack",
              "process-kill")


@pytest.mark.parametrize("name", ["Unit_Probe", "unit-probe", "1probe"])
def test_a_name_that_is_not_lower_case_snake(tmp_path, name):
    text = edit("name: unit_probe", f"name: {name}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "name:"), "`name` must be lower case letters")


def test_a_selector_count_below_one(tmp_path):
    text = edit("fault: zone-outage", "fault: node-kill").replace("{zone: zone-a}", "{zone: zone-a, count: 0}")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "count: 0"), "`select.count` is a whole number >= 1")


def test_a_missing_required_fault_parameter(tmp_path):
    text = edit("fault: zone-outage", "fault: network-delay")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "network-delay"), "needs `latency`")


@pytest.mark.parametrize("loss", ["0%", "150%", "0", "2"])
def test_a_loss_outside_zero_to_a_hundred_percent(tmp_path, loss):
    text = edit("fault: zone-outage", "fault: network-loss").replace("    at: 2s\n", f"    at: 2s\n    loss: {loss}\n")
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "loss:"), "above 0% and at most 100%")


# non-scalar or wrongly typed values are ConfigErrors at their line, never a crash
@pytest.mark.parametrize(("old", "new", "needle"), [
    ("duration: 6s", "duration: [6s]", "duration:"),
    ("duration: 6s", "duration: true", "duration:"),
    ("at: 2s", "at: {a: 1}", "at:"),
    ("fault: zone-outage", "fault: [zone-outage]", "fault:"),
    ("{rate: 40/s}", "{rate: [40]}", "rate:"),
    ("{rate: 40/s}", "{rate: 40/s, slo: [5]}", "slo:"),
    ("target: {stack: local}", "target: {stack: local}\ntiming: {steady: [1]}", "timing:"),
])
def test_wrongly_typed_values_are_config_errors(tmp_path, old, new, needle):
    text = edit(old, new)
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.line == line_of(text, needle), str(err)


def test_a_non_string_pid_file_is_a_config_error(tmp_path):
    text = (edit("target: {stack: local}", "target: {processes: {app: {pid_file: 5}}}")
            .replace("fault: zone-outage", "fault: node-pause").replace("{zone: zone-a}", "{node: app}"))
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "pid_file"), "pid_file")


def test_invalid_yaml_names_the_line(tmp_path):
    text = edit("    at: 2s\n", "    at: [2s\n")
    path = write(tmp_path, text)
    err = error_of(path)
    assert str(err).startswith(f"{path}:") and "invalid YAML" in str(err)


# ------------------------------------------------------------------ through the CLI
def test_cli_validate_reports_file_and_line_with_exit_2(tmp_path, capsys):
    text = edit("fault: zone-outage", "fault: zone-outgae")
    path = write(tmp_path, text)
    assert main(["chaos", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line_of(text, 'zone-outgae')}: unknown fault `zone-outgae`" in err
    assert "did you mean `zone-outage`?" in err


def test_cli_validate_stops_at_the_first_bad_file(tmp_path, capsys):
    good = write(tmp_path, BASE, "good.yaml")
    text = edit("availability >= 99%", "availability >= 99.9")
    bad = write(tmp_path, text, "bad.yaml")
    assert main(["chaos", "validate", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{good}: ok" in captured.out
    assert f"{bad}:{line_of(text, '99.9')}:" in captured.err and "99.9%" in captured.err


def test_cli_validate_of_a_missing_file_is_exit_2(tmp_path, capsys):
    assert main(["chaos", "validate", str(tmp_path / "nope.yaml")]) == 2
    assert "no such experiment file" in capsys.readouterr().err


def test_cli_validate_of_a_wrongly_typed_value_is_exit_2_not_an_internal_error(tmp_path, capsys):
    text = edit("duration: 6s", "duration: [6s]")
    path = write(tmp_path, text)
    assert main(["chaos", "validate", str(path)]) == 2
    assert f"{path}:{line_of(text, 'duration:')}:" in capsys.readouterr().err


# ------------------------------------------------------------------ training settings, checked before any job starts
@pytest.mark.parametrize(("settings", "fragments"), [
    ("{steps: 100, checkpoint_evry: 25}", ("unknown training setting `checkpoint_evry`", "checkpoint_every")),
    ("{steps: 100, checkpoint_every: 0}", ("`checkpoint_every` must be >= 1",)),
    ("{steps: -5}", ("`steps` must be >= 1",)),
    ("{steps: 100, checkpoint_write_errors: crash}", ("`checkpoint_write_errors` is skip or fatal",)),
    ("{steps: 100, lr: .nan}", ("`lr` must be a finite number",)),
    ("{steps: true}", ("`steps` must be int",)),
    ("{steps: 100.5}", ("`steps` must be int",)),
])
def test_bad_training_settings_are_file_line_errors(tmp_path, settings, fragments):
    text = edit("{settings: {steps: 100, checkpoint_every: 25}}", "{settings: " + settings + "}", TRAINING)
    path = write(tmp_path, text)
    assert_at(error_of(path), path, line_of(text, "training:"), *fragments)


def test_sound_training_settings_load(tmp_path):
    text = edit("checkpoint_every: 25}", "checkpoint_every: 25, checkpoint_write_errors: fatal, lr: 0.1, nodes: 3}",
                TRAINING)
    exp = load_experiment(write(tmp_path, text))
    assert exp.probe("training").params["settings"]["checkpoint_write_errors"] == "fatal"
