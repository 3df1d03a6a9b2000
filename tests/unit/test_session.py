"""The one Session: a check that cannot run is `error`, never `passed`; the deadline stops a
check after its cleanup ran; a check that ignores it never hangs the run; every result
carries the run's seed and the config's identity."""
import hashlib
import json
import signal
import threading
import time
from pathlib import Path

import pytest

import mlqa
from mlqa import CheckContext, CheckResult, ConfigError, Session, check
from mlqa.deadline import Cancelled
from mlqa.registry import spec_of
from mlqa.session import run_check

from conftest import add_fault_check


@check("acme.raises")
def raises(ctx):
    raise ValueError("boom")


@check("acme.returns_none")
def returns_none(ctx):
    return None


@check("acme.needs_model", requires=("model",))
def needs_model(ctx):
    return CheckResult(status="passed")


@check("acme.ok")
def ok(ctx, *, value: float = 1.0):
    return CheckResult(status="passed", metrics={"value": value})


def test_a_crash_is_an_error_with_the_traceback():
    res = run_check(spec_of(raises), CheckContext(), {})
    assert res.status == "error" and "ValueError: boom" in res.message and not res
    assert any("boom" in line for line in res.evidence["traceback"])


def test_a_wrong_return_type_is_an_error():
    res = run_check(spec_of(returns_none), CheckContext(), {})
    assert res.status == "error" and "not a CheckResult" in res.message


def test_a_missing_subject_is_an_error_saying_what_to_declare():
    res = run_check(spec_of(needs_model), CheckContext(), {})
    assert res.status == "error" and "declare `model:" in res.message


def test_a_subject_that_failed_to_load_is_named():
    ctx = CheckContext(subject_errors={"model": "mlqa.yaml:3: refusing to load m.pkl"})
    res = run_check(spec_of(needs_model), ctx, {})
    assert res.status == "error" and "refusing to load m.pkl" in res.message


def test_id_duration_and_seed_are_filled_in():
    res = run_check(spec_of(ok), CheckContext(seed=5), {"value": 2.0}, key="acme.ok[two]")
    assert res.id == "acme.ok[two]" and res.status == "passed" and res.duration_s >= 0 and res.seed == 5


# ------------------------------------------------------------------ the deadline
@check("acme.injects")
def injects(ctx, *, world: dict):
    """Injects a reversible change (a 'fault'), then holds it while polling the deadline;
    the rollback is in `finally`, so it runs however the check ends."""
    world["fault"] = "injected"
    try:
        while True:
            ctx.deadline.sleep(0.05)
    finally:
        time.sleep(0.1)  # a rollback takes a moment
        world["fault"] = None
        world["rolled_back_at"] = time.monotonic()


@check("acme.ignores")
def ignores(ctx, *, release: threading.Event):
    """Never looks at its deadline (a blocking call that cannot be interrupted)."""
    release.wait(60)
    return CheckResult(status="passed")


def test_a_timed_out_check_that_polls_is_stopped_and_its_cleanup_ran_first():
    world: dict = {}
    res = run_check(spec_of(injects), CheckContext(), {"world": world}, timeout=0.3, grace_s=10)
    returned_at = time.monotonic()
    assert res.status == "error" and "timed out after 0.3s" in res.message
    assert "stopped and cleaned up" in res.message
    assert world["fault"] is None, "the rollback must have run before the result was recorded"
    assert world["rolled_back_at"] <= returned_at


def test_a_check_that_ignores_its_deadline_is_abandoned_and_the_run_goes_on():
    release = threading.Event()
    box: dict = {}
    runner = threading.Thread(target=lambda: box.setdefault(
        "res", run_check(spec_of(ignores), CheckContext(), {"release": release}, timeout=0.2, grace_s=0.2)))
    runner.start()
    runner.join(60)  # a generous bound: it must come back at all, long before the check would
    try:
        assert not runner.is_alive(), "run_check hung on a check that ignores its deadline"
        res = box["res"]
        assert res.status == "error" and "did not stop within the 0.2s grace period" in res.message
        assert "abandoned" in res.message
    finally:
        release.set()


def test_a_check_that_returns_after_its_deadline_still_counts_as_timed_out():
    @check("acme.late")
    def late(ctx):
        try:
            while True:
                ctx.deadline.sleep(0.05)
        except Cancelled:
            return CheckResult(status="passed", message="I swallowed the cancellation")
    res = run_check(spec_of(late), CheckContext(), {}, timeout=0.2, grace_s=5)
    assert res.status == "error" and "timed out" in res.message


def test_a_declared_default_timeout_applies_and_a_configured_one_wins():
    @check("acme.slow_default", timeout=0.2)
    def slow(ctx):
        while True:
            ctx.deadline.sleep(0.05)
    assert spec_of(slow).timeout == 0.2
    assert "timed out after 0.2s" in run_check(spec_of(slow), CheckContext(), {}).message
    assert "timed out after 0.3s" in run_check(spec_of(slow), CheckContext(), {}, timeout=0.3).message


def test_ctrl_c_cancels_the_running_check_and_its_cleanup_runs_before_it_propagates():
    world: dict = {}
    main = threading.get_ident()
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_check(spec_of(injects), CheckContext(), {"world": world}, timeout=60, grace_s=10)
    finally:
        timer.cancel()
    assert world["fault"] is None


# ------------------------------------------------------------------ sessions over a config
def test_a_configured_timeout_stops_the_check_the_marker_is_gone_and_the_next_check_runs(toy_project):
    cfg = toy_project("- acme.holds_a_fault: {marker: fault.txt, timeout: 0.5}\n- acme.ok: {}")
    add_fault_check(cfg)
    text = cfg.read_text().replace("marker: fault.txt", f"marker: {cfg.parent / 'fault.txt'}")
    cfg.write_text(text)
    session = Session(cfg, "production")
    first, second = session.run_all()
    assert first.status == "error" and "timed out after 0.5s" in first.message
    assert not (cfg.parent / "fault.txt").exists()
    assert second.status == "passed"
    decision = session.finish().decision
    assert decision.decision == "block" and "acme.holds_a_fault could not run" in decision.reasons[0]


def test_every_result_carries_the_seed_and_the_configs_identity(toy_project):
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    cfg.write_text(cfg.read_text().replace("version: 1\n", "version: 1\nseed: 7\n"))
    session = Session(cfg, "production")
    session.run_all()
    recorded = session.record(CheckResult(id="acme.manual", status="passed"))
    own_seed = session.record(CheckResult(id="acme.manual2", status="passed", seed=99))
    identity = hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert session.config.sha256 == identity
    for r in session.results:
        assert r.config_sha256 == identity
    assert [r.seed for r in session.results] == [7, 7, 7, 99]
    assert recorded.seed == 7 and own_seed.seed == 99
    outcome = session.finish(cfg.parent / "out")
    rows = json.loads((cfg.parent / "out" / "results.json").read_text())["checks"]
    assert {(r["id"], r["seed"], r["config_sha256"]) for r in rows} == {
        ("acme.ok", 7, identity), ("acme.fails", 7, identity), ("acme.manual", 7, identity),
        ("acme.manual2", 99, identity)}
    assert outcome.subject["config_sha256"] == identity


def test_the_identity_covers_included_presets(toy_project):
    cfg = toy_project("- acme.ok: {}")
    preset = cfg.parent / "team.yaml"
    preset.write_text("checks:\n  - acme.fails: {}\n")
    cfg.write_text(cfg.read_text().replace("version: 1\n", "version: 1\ninclude: team.yaml\n"))
    before = mlqa.load_config(cfg).sha256
    preset.write_text("checks:\n  - acme.fails: {value: 3.0}\n")
    assert mlqa.load_config(cfg).sha256 != before


def test_the_stage_is_resolved_once_when_the_session_is_made(toy_project):
    cfg = toy_project("- acme.ok: {}")
    with pytest.raises(ConfigError, match="unknown stage `prodution`") as exc:
        Session(cfg, "prodution")
    assert "did you mean `production`?" in str(exc.value)
    with pytest.raises(mlqa.MlqaError, match="needs a config"):
        Session(None, "production")


def test_a_partial_stage_run_never_promotes_and_without_a_stage_it_may(toy_project):
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    staged = Session(cfg, "production")
    staged.run_all(["acme.ok"])
    decision = staged.finish().decision
    assert decision.decision == "block" and any("acme.fails did not run" in r for r in decision.reasons)
    plain = Session(cfg)
    plain.run_all(["acme.ok"])
    outcome = plain.finish()
    assert outcome.decision is None and outcome.verdict.promoted


def test_record_refuses_what_is_not_a_result_or_has_no_check_id(toy_project):
    session = Session(toy_project("- acme.ok: {}"))
    with pytest.raises(TypeError, match="CheckResult"):
        session.record({"id": "acme.x", "status": "passed"})
    with pytest.raises(ValueError, match="suite.name"):
        session.record(CheckResult(id="no_dot", status="passed"))


def test_a_session_without_a_config_gates_recorded_results_only():
    session = Session(None)
    session.record(CheckResult(id="acme.a", status="passed"))
    assert session.select() == [] and session.finish().verdict.promoted
    session.record(CheckResult(id="acme.b", status="failed", message="no"))
    assert not session.finish().verdict.promoted
    with pytest.raises(mlqa.MlqaError, match="needs an mlqa config"):
        session.context


def test_run_and_gate_are_the_session(toy_project, tmp_path):
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    assert [r.status for r in mlqa.run(cfg)] == ["passed", "failed"]
    assert [r.id for r in mlqa.run(cfg, only=["acme.ok"])] == ["acme.ok"]
    decision = mlqa.gate(cfg, "production", out=tmp_path / "out")
    assert decision.decision == "block" and (tmp_path / "out" / "decision.json").exists()


def test_the_cli_and_the_pytest_plugin_run_and_decide_through_the_same_session_methods(
        toy_project, monkeypatch, pytester, tmp_path):
    """`mlqa gate` and `pytest --mlqa-config` follow the same path: Session.run for each
    check, Session.finish for the decision and the reports."""
    from mlqa.cli import main
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    calls: list[str] = []
    real_run, real_finish = Session.run, Session.finish
    monkeypatch.setattr(Session, "run", lambda self, inst: calls.append(f"run {inst.key}") or real_run(self, inst))
    monkeypatch.setattr(Session, "finish", lambda self, out=None: calls.append("finish") or real_finish(self, out))
    assert main(["gate", str(cfg), "--stage", "production", "--out", str(tmp_path / "cli")]) == 1
    via_cli, calls[:] = list(calls), []
    res = pytester.runpytest_inprocess("--mlqa-config", str(cfg), "--mlqa-stage", "production",
                                       "--mlqa-out", str(tmp_path / "pytest"), "-p", "no:cacheprovider")
    assert res.ret == 1
    assert via_cli == calls == ["run acme.ok", "run acme.fails", "finish"]
    cli_doc = json.loads((tmp_path / "cli" / "decision.json").read_text())
    pytest_doc = json.loads((tmp_path / "pytest" / "decision.json").read_text())
    assert cli_doc["reasons"] == pytest_doc["reasons"] and cli_doc["decision"] == pytest_doc["decision"]


# ------------------------------------------------------------------ attacks, kept as tests
def test_a_recorded_result_cannot_stand_in_for_a_configured_check(toy_project, tmp_path):
    """Recorded under a configured check's id, a result is kept apart and attributed; the
    configured check still did not run, so the stage blocks."""
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    session = Session(cfg, "production")
    session.run_all(["acme.ok"])
    kept = session.record(CheckResult(id="acme.fails", status="passed"), recorded_by="tests/t.py::test_manual")
    forged = session.record(CheckResult(id="acme.ok", status="passed", recorded_by=None))
    session.record(CheckResult(id="acme.fails[manual]", status="passed"))  # its own id is fine too
    assert kept.recorded_by == "tests/t.py::test_manual" and forged.recorded_by == "api"
    outcome = session.finish(tmp_path / "out")
    assert outcome.decision.decision == "block"
    assert outcome.decision.reasons == (
        "acme.fails did not run: a promotion needs evidence from every blocking check",)
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["checks"]
    assert [(r["id"], r["recorded_by"]) for r in rows] == [
        ("acme.ok", None), ("acme.fails", "tests/t.py::test_manual"), ("acme.ok", "api"),
        ("acme.fails[manual]", "api")]
    gated = json.loads((tmp_path / "out" / "decision.json").read_text())["checks"]
    assert "recorded by tests/t.py::test_manual, not run" in gated[1]["note"]
    import jsonschema
    root = Path(__file__).resolve().parents[2] / "reports"
    for name in ("results", "decision"):
        jsonschema.validate(json.loads((tmp_path / "out" / f"{name}.json").read_text()),
                            json.loads((root / f"{name}.schema.json").read_text()))


def test_a_ran_check_is_never_attributed_to_a_recorder(toy_project, monkeypatch):
    import mlqa.session
    monkeypatch.setattr(mlqa.session, "run_check", lambda spec, ctx, params, **kw: CheckResult(
        id=kw["key"], status="passed", recorded_by="someone"))
    session = Session(toy_project("- acme.ok: {}"))
    assert session.run(session.config.checks[0]).recorded_by is None


def test_only_globs_take_an_instance_literally(toy_project):
    cfg = toy_project("- acme.ok[a]: {}\n- acme.ok[u]: {}\n- acme.fails: {}")
    assert [c.key for c in Session(cfg).select("acme.ok[a]")] == ["acme.ok[a]"]
    assert [c.key for c in Session(cfg).select(["acme.ok[*]", "acme.f?ils"])] == ["acme.ok[a]", "acme.ok[u]",
                                                                              "acme.fails"]


@pytest.mark.parametrize("bad", ["acme.x\n", "acme.y[a|b\n## injected <img src=x>]", "acme.z[\x00]", "Acme.x",
                                 "acme", "acme.x[]", "acme.x [a]"])
def test_a_recorded_id_must_be_a_plain_result_id(bad):
    with pytest.raises(ValueError, match="suite.name"):
        Session(None).record(CheckResult(id=bad, status="passed"))


@pytest.mark.parametrize("stage", ["", "  "])
def test_an_empty_stage_is_a_usage_error_not_no_stage(toy_project, stage):
    with pytest.raises(mlqa.MlqaError, match="a stage is the name"):
        Session(toy_project("- acme.ok: {}"), stage)


def test_only_may_be_one_glob(toy_project):
    assert [r.id for r in mlqa.run(toy_project("- acme.ok: {}\n- acme.fails: {}"), only="acme.ok")] == ["acme.ok"]


@pytest.mark.parametrize("value", [".inf", "1.0e+10", "10" * 200, "true", "-1", "0", ".nan"])
def test_a_timeout_that_cannot_be_a_deadline_is_a_config_error_at_its_line(toy_project, value):
    cfg = toy_project(f"- acme.ok: {{timeout: {value}}}")
    with pytest.raises(ConfigError, match="`timeout` must be a positive number") as exc:
        mlqa.load_config(cfg)
    assert exc.value.line == 6 and len(str(exc.value)) < 300


@pytest.mark.parametrize("value", [float("inf"), float("nan"), True, 0, 1e12])
def test_a_declared_default_timeout_must_be_usable(value):
    with pytest.raises(ValueError, match="timeout"):
        check("acme.bad_timeout", timeout=value)


def test_a_huge_deadline_never_overflows_a_wait():
    d = mlqa.Deadline(float("inf"))
    threading.Timer(0.1, d.cancel).start()
    with pytest.raises(Cancelled):
        d.sleep(float("inf"))
    res = run_check(spec_of(ok), CheckContext(), {}, timeout=1e300)
    assert res.status == "passed"


FACTORIES = {
    "exits": "import sys\n\ndef factory():\n    sys.exit(0)\n",
    "crashes": "def factory():\n    raise RuntimeError('weights not found')\n",
}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_a_model_factory_that_exits_or_crashes_blocks_the_gate_with_reports(toy_project, tmp_path, kind):
    from mlqa.cli import main
    cfg = toy_project("- acme.ok: {}\n- performance.metric: {metric: accuracy, min: 0.5}")
    name = f"factory_{kind}_{tmp_path.name}".replace("-", "_")
    (cfg.parent / f"{name}.py").write_text(FACTORIES[kind])
    cfg.write_text(cfg.read_text().replace('toy_model:factory', f"{name}:factory"))
    assert main(["gate", str(cfg), "--stage", "production", "--out", str(tmp_path / "out")]) == 1
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    rows = {c["id"]: c for c in decision["checks"]}
    assert rows["performance.metric"]["status"] == "error"
    assert ("SystemExit" if kind == "exits" else "weights not found") in rows["performance.metric"]["message"]
    assert decision["decision"] == "block"
    assert mlqa.gate(cfg, "production").decision == "block"


def test_a_plugin_that_exits_at_import_is_a_config_error(toy_project, tmp_path):
    cfg = toy_project("- acme.ok: {}")
    name = f"exiting_{tmp_path.name}".replace("-", "_")
    (cfg.parent / f"{name}.py").write_text("raise SystemExit(0)\n")
    cfg.write_text(cfg.read_text().replace("plugins: [acme_checks]", f"plugins: [acme_checks, {name}]"))
    with pytest.raises(ConfigError, match=f"plugin `{name}` failed at import: SystemExit") as exc:
        mlqa.load_config(cfg)
    assert exc.value.line == 2


def test_each_check_gets_its_own_view_of_the_subjects():
    ctx = CheckContext(endpoint={"url": "http://real:8080"})

    @check("acme.redirects")
    def redirects(ctx):
        ctx.endpoint = {"url": "http://canary:8080"}
        return CheckResult(status="passed")

    @check("acme.reads")
    def reads(ctx):
        return CheckResult(status="passed", message=ctx.endpoint["url"])
    run_check(spec_of(redirects), ctx, {})
    assert run_check(spec_of(reads), ctx, {}).message == "http://real:8080"


def test_the_identity_is_the_files_bytes(toy_project):
    cfg = toy_project("- acme.ok: {}")
    lf = mlqa.load_config(cfg).sha256
    cfg.write_bytes(cfg.read_bytes().replace(b"\n", b"\r\n"))
    crlf = mlqa.load_config(cfg).sha256
    assert crlf != lf and crlf == hashlib.sha256(cfg.read_bytes()).hexdigest()


def test_an_in_process_model_is_named_in_the_decision(toy_project):
    """`isolation: in-process` is for trusted models only, and the report says it was used."""
    cfg = toy_project("- acme.ok: {}")
    text = cfg.read_text()
    cfg.write_text(text.replace('model: {python: "toy_model:factory"}',
                                'model: {python: "toy_model:factory", isolation: in-process}'))
    decision = mlqa.gate(cfg, "production")
    assert any("model ran in mlqa's own process (isolation: in-process)" in n for n in decision.notes)
    clean = mlqa.gate(toy_project("- acme.ok: {}", name="twin.yaml"), "production")
    assert not any("in-process" in n for n in clean.notes)


SLOW_CLEANUP = '''
import time
import mlqa
from mlqa.deadline import Cancelled


def _work(ctx, cleanup_s):
    try:
        while True:
            ctx.deadline.sleep(0.05)
    except Cancelled:
        time.sleep(cleanup_s)          # rolling its faults back
        raise


@mlqa.check("acme.declares_its_grace", grace_s=5.0)
def declares(ctx, *, cleanup_s: float = 1.0):
    _work(ctx, cleanup_s)


@mlqa.check("acme.takes_the_sessions_grace")
def plain(ctx, *, cleanup_s: float = 1.0):
    _work(ctx, cleanup_s)
'''


def test_a_check_that_declares_a_longer_grace_is_waited_for_and_one_that_does_not_is_abandoned(toy_project):
    cfg = toy_project("- acme.declares_its_grace: {timeout: 0.3}\n- acme.takes_the_sessions_grace: {timeout: 0.3}")
    name = f"slow_cleanup_{cfg.parent.name}".replace("-", "_")
    (cfg.parent / f"{name}.py").write_text(SLOW_CLEANUP)
    cfg.write_text(cfg.read_text().replace("plugins: [acme_checks]", f"plugins: [acme_checks, {name}]"))
    session = Session(cfg, "production", grace_s=0.2)
    declared, plain = session.run_all()
    assert declared.status == "error" and "timed out after 0.3s" in declared.message
    assert "grace" not in declared.message, "its own 5 s grace covered the 1 s clean-up"
    assert plain.status == "error" and "did not stop within the 0.2s grace" in plain.message
