"""CLI exit codes: 0 promote, 1 block, 2 usage/config, 3 internal; messages on stderr."""
import io
import json
import re
import sys
import zipfile

import pytest

from mlqa.cli import main

CHECKS = "- acme.ok: {}\n- data.duplicates: {}"


def test_gate_promotes_and_writes_five_reports(toy_project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["gate", str(toy_project(CHECKS)), "--stage", "production", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decision.json", "junit.xml", "report.html",
                                                     "results.json", "summary.md"]
    err = capsys.readouterr().err
    assert "mlqa: PROMOTE (stage production)" in err and "reports:" in err


def test_gate_blocks_with_exit_1(toy_project, tmp_path):
    assert main(["gate", str(toy_project(CHECKS + "\n- acme.fails: {}")), "--stage", "production",
                 "--out", str(tmp_path / "o")]) == 1


def test_run_only_glob(toy_project, tmp_path):
    cfg = str(toy_project(CHECKS + "\n- acme.fails: {}"))
    assert main(["run", cfg, "--only", "acme.ok", "--out", str(tmp_path / "o")]) == 0
    assert main(["run", cfg, "--only", "acme.*", "--out", str(tmp_path / "o")]) == 1
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    assert [c["id"] for c in data["checks"]] == ["acme.ok", "acme.fails"]
    assert main(["run", cfg, "--only", "nothing.*", "--out", str(tmp_path / "o")]) == 2


def test_config_error_exits_2_on_stderr(toy_project, capsys):
    assert main(["gate", str(toy_project("- data.duplicatse: {}")), "--stage", "production"]) == 2
    err = capsys.readouterr().err
    assert "mlqa.yaml:6: unknown check id `data.duplicatse`" in err and "`data.duplicates`" in err


def test_unknown_stage_and_missing_config_exit_2(toy_project, tmp_path, capsys):
    assert main(["gate", str(toy_project(CHECKS)), "--stage", "prod"]) == 2
    assert "did you mean `production`" in capsys.readouterr().err
    assert main(["gate", str(tmp_path / "nope.yaml"), "--stage", "x"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gate"])
    assert exc.value.code == 2
    assert main([]) == 2


def test_internal_error_exits_3(monkeypatch, toy_project, capsys):
    import mlqa.session
    def broken(*a, **k):
        raise ZeroDivisionError("bug")
    monkeypatch.setattr(mlqa.session.Session, "finish", broken)
    assert main(["gate", str(toy_project(CHECKS)), "--stage", "production"]) == 3
    assert "internal error" in capsys.readouterr().err


def test_checks_catalogue_lists_every_check_with_defaults(capsys):
    assert main(["checks"]) == 0
    out = capsys.readouterr().out
    assert "data.drift  (needs: train, test)" in out and "max_psi: float (>= 0), default 0.2" in out
    assert main(["checks", "--format", "json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["performance.regression"]["params"][1] == {
        "name": "max_drop", "type": "float (finite)", "required": False, "default": 0.01,
        "doc": "the largest acceptable loss of the metric against the champion (default 0.01)"}


def test_report_renders_every_format(toy_project, tmp_path, capsys):
    out = tmp_path / "o"
    main(["gate", str(toy_project(CHECKS + "\n- acme.fails: {}")), "--stage", "production", "--out", str(out)])
    capsys.readouterr()
    for fmt, needle in (("md", "BLOCK (stage production)"), ("junit", "<testsuite"),
                        ("json", '"decision": "block"'), ("html", "Decision: BLOCK")):
        assert main(["report", str(out / "decision.json"), "--format", fmt]) == 0
        assert needle in capsys.readouterr().out
    assert main(["report", str(out / "results.json"), "--format", "md"]) == 0
    assert "NOT ALL PASSED" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{\n  nope")
    assert main(["report", str(tmp_path / "bad.json")]) == 2
    assert "bad.json:2: not valid JSON" in capsys.readouterr().err


def test_init_writes_a_config_that_loads(tmp_path, adult_train):
    from mlqa.config import load_config
    data = tmp_path / "data"
    data.mkdir()
    adult_train.head(200).to_csv(data / "train.csv", index=False)
    adult_train.tail(100).to_csv(data / "test.csv", index=False)
    with zipfile.ZipFile(tmp_path / "model.skops", "w") as archive:  # a model file to the config's eyes
        archive.writestr("schema.json", "{}")
    out = tmp_path / "mlqa.yaml"
    assert main(["init", "--data", str(data / "train.csv"), "--model", str(tmp_path / "model.skops"),
                 "--out", str(out)]) == 0
    config = load_config(out)
    assert config.data.label == "income" and config.data.sensitive == ("race", "sex")
    assert config.data.test.name == "test.csv" and len(config.checks) == 9
    assert main(["init", "--data", str(data / "train.csv"), "--model", "m.skops", "--out", str(out)]) == 2


def test_unsafe_model_file_makes_model_checks_error_and_blocks(toy_project, tmp_path, capsys):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'pwned'}",)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Evil()))
    cfg = toy_project("- data.duplicates: {}\n- performance.metric: {metric: accuracy, min: 0.5}")
    cfg.write_text(cfg.read_text().replace('model: {python: "toy_model:factory"}', "model: {path: evil.pkl}"))
    out = tmp_path / "o"
    assert main(["gate", str(cfg), "--stage", "production", "--out", str(out)]) == 1
    decision = json.loads((out / "decision.json").read_text())
    rows = {c["id"]: c for c in decision["checks"]}
    assert rows["data.duplicates"]["status"] == "passed"
    assert rows["performance.metric"]["status"] == "error"
    assert "refusing to load" in rows["performance.metric"]["message"] and "posix.system" in decision["reasons"][0]
    assert not (tmp_path / "pwned").exists()


def test_positive_label_not_in_the_data_exits_2(toy_project, capsys):
    cfg = toy_project("- acme.ok: {}")
    cfg.write_text(cfg.read_text().replace("positive_label: 1", "positive_label: 2"))
    assert main(["gate", str(cfg), "--stage", "production"]) == 2
    err = capsys.readouterr().err
    assert "mlqa.yaml:4: positive_label 2 is not a value of `label` (values: 0, 1)" in err


def test_parquet_data(toy_project, tmp_path):
    import pandas as pd
    for split in ("train", "test"):
        pd.read_csv(tmp_path / f"{split}.csv").to_parquet(tmp_path / f"{split}.parquet")
    cfg = toy_project("- data.drift: {}\n- performance.metric: {metric: roc_auc, min: 0.9}")
    cfg.write_text(cfg.read_text().replace(".csv", ".parquet"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 0


def test_a_check_called_directly_carries_its_id(toy_project):
    from mlqa.config import load_config
    from mlqa.context import build_context
    from mlqa.suites.data import drift
    ctx = build_context(load_config(toy_project("- acme.ok: {}")))
    result = drift(ctx, max_psi=0.5)
    assert result.id == "data.drift" and result.status == "passed" and bool(result)


# ---------------------------------------------------------------- progress and titles
SLOW_CHECK = '''
import pathlib
import mlqa


@mlqa.check("acme.slow")
def slow(ctx, *, marker: str):
    """Runs until the run's output says it is still running (a marker file), at most 30 s."""
    path = pathlib.Path(marker)
    for _ in range(1500):
        if path.exists():
            return mlqa.CheckResult(status="passed", message="saw its heartbeat")
        ctx.deadline.sleep(0.02)
    return mlqa.CheckResult(status="failed", message="no heartbeat line within 30 s")
'''


class _Log(io.StringIO):
    """stderr of a CI job (not a terminal) that drops a marker file once a heartbeat line
    for the slow check has been written — the check waits for it, so no timing is assumed."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def write(self, text):
        if "acme.slow still running" in text:
            self.marker.write_text("seen")
        return super().write(text)

    def isatty(self):
        return False


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _slow_project(toy_project, tmp_path):
    cfg = toy_project(f"- acme.ok: {{}}\n- acme.slow: {{marker: '{tmp_path / 'beat'}'}}\n- acme.fails: {{}}")
    (cfg.parent / "slow_checks.py").write_text(SLOW_CHECK)
    cfg.write_text(cfg.read_text().replace("plugins: [acme_checks]", "plugins: [acme_checks, slow_checks]"))
    return cfg


def test_a_ci_log_gets_a_line_per_check_start_and_end_and_a_heartbeat(toy_project, tmp_path, monkeypatch, capsys):
    log = _Log(tmp_path / "beat")
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setenv("MLQA_HEARTBEAT_S", "0.05")
    assert main(["run", str(_slow_project(toy_project, tmp_path)), "--out", str(tmp_path / "o")]) == 1
    lines = log.getvalue().splitlines()
    at = {key: next(i for i, ln in enumerate(lines) if key in ln) for key in (
        "[1/3] acme.ok started", "[1/3] acme.ok passed (", "[2/3] acme.slow started",
        "[2/3] acme.slow still running (", "[2/3] acme.slow passed (", "[3/3] acme.fails started",
        "[3/3] acme.fails failed (", "mlqa run")}
    assert list(at.values()) == sorted(at.values()), "in the order things happened"
    assert re.search(r"\[1/3\] acme\.ok passed \(\d+\.\d s\)", log.getvalue())
    assert capsys.readouterr().out == "", "standard output stays free for machine output"


def test_a_terminal_shows_the_check_that_is_running(tmp_path):
    from mlqa.console import progress
    term = _Terminal()
    with progress(2, stream=term) as shown:
        shown.start("data.drift")
        shown.bar.refresh()
        assert "data.drift" in term.getvalue()
        shown.done("data.drift", "passed", 0.5)
        shown.start("performance.metric")
        shown.bar.refresh()
        assert "performance.metric" in term.getvalue()


def test_the_heartbeat_interval_comes_from_the_environment(monkeypatch, capsys):
    from mlqa.console import HEARTBEAT_S, heartbeat_s
    assert HEARTBEAT_S == 30
    for raw, expected in (("0.5", 0.5), ("", 30.0), ("nope", 30.0), ("0", 30.0), ("-1", 30.0), ("inf", 30.0)):
        monkeypatch.setenv("MLQA_HEARTBEAT_S", raw)
        assert heartbeat_s() == expected
        warned = "MLQA_HEARTBEAT_S" in capsys.readouterr().err
        assert warned == (raw not in ("0.5", "")), raw  # a bad value is not silently ignored


def test_run_titles_its_table_run_and_gate_titles_it_with_the_stage(toy_project, tmp_path, monkeypatch):
    cfg = str(toy_project(CHECKS))
    for argv, title, not_title in ((["run", cfg], "mlqa run", "mlqa gate"),
                                   (["gate", cfg, "--stage", "production"], "mlqa gate (stage production)",
                                    "mlqa run")):
        for stream in (_Terminal(), _Log(tmp_path / "unused")):
            monkeypatch.setattr(sys, "stderr", stream)
            assert main([*argv, "--out", str(tmp_path / "o")]) == 0
            text = stream.getvalue()
            assert title in text and not_title not in text, (argv, type(stream).__name__)


def test_markdown_of_a_run_without_a_stage_does_not_say_it_blocks(toy_project, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", str(toy_project(CHECKS + "\n- acme.fails: {}")), "--out", str(out)]) == 1
    capsys.readouterr()
    assert main(["report", str(out / "results.json"), "--format", "md"]) == 0
    text = capsys.readouterr().out
    assert "**What did not pass:**" in text and "acme.fails failed" in text
    assert "Why it blocks" not in text and "NOT ALL PASSED (no stage)" in text
    assert "**What did not pass:**" in (out / "summary.md").read_text()
    gated = tmp_path / "g"
    assert main(["gate", str(toy_project(CHECKS + "\n- acme.fails: {}")), "--stage", "production",
                 "--out", str(gated)]) == 1
    assert "**Why it blocks:**" in (gated / "summary.md").read_text()
