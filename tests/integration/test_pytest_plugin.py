"""The pytest plugin: one item per check, the stage decides outcomes and the exit status."""
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

CHECKS = """
- data.duplicates: {max_fraction: 0.05}
- performance.metric: {metric: accuracy, min: 0.8}
- acme.ok: {}
- acme.fails: {}
"""


@pytest.fixture
def run(pytester):
    def go(*args):
        return pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    return go


def test_one_item_per_check_named_by_id(toy_project, run):
    cfg = toy_project(CHECKS)
    res = run("--collect-only", "-q", "--mlqa-config", str(cfg))
    for cid in ("data.duplicates", "performance.metric", "acme.ok", "acme.fails"):
        res.stdout.fnmatch_lines([f"*mlqa.yaml::{cid}"])
    assert res.ret == 0


def test_blocking_failure_fails_the_item_and_the_session(toy_project, run, tmp_path):
    cfg = toy_project(CHECKS)
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", "--junitxml", str(tmp_path / "r.xml"),
              "--mlqa-out", str(tmp_path / "out"))
    res.assert_outcomes(passed=3, failed=1)
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*acme.fails failed — blocking in stage production*",
                              "*value = 2.0  (limit <= 1)*", "*mlqa: BLOCK (stage production)*"])
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "r.xml").getroot().iter("testcase")}
    assert set(cases) == {"data.duplicates", "performance.metric", "acme.ok", "acme.fails"}
    assert cases["acme.fails"].find("failure") is not None
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert decision["decision"] == "block" and decision["reasons"][0].startswith("acme.fails failed")


def test_advisory_failure_is_xfailed_and_the_stage_promotes(toy_project, run):
    cfg = toy_project(CHECKS, 'staging: {blocking: ["data.*", "performance.*"], advisory: ["acme.*"]}')
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "staging")
    res.assert_outcomes(passed=3, xfailed=1)
    assert res.ret == 0
    res.stdout.fnmatch_lines(["*mlqa: PROMOTE (stage staging)*"])


def test_a_crashing_check_is_an_error_that_blocks(toy_project, run):
    cfg = toy_project("- acme.ok: {}\n- acme.raises: {}")
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production")
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*acme.raises error*", "*RuntimeError: disk on fire*",
                              "*reason: acme.raises could not run*"])


def test_expired_waiver_blocks_and_says_so(toy_project, run):
    gates = """
    production:
      blocking: ["*"]
      waivers:
        - {check: acme.fails, reason: "known", owner: ml-team, expires: 2020-01-01}
    """
    res = run("--mlqa-config", str(toy_project("- acme.fails: {}", gates)), "--mlqa-stage", "production")
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*waiver expired on 2020-01-01*"])
    active = gates.replace("2020-01-01", "2999-01-01")
    res = run("--mlqa-config", str(toy_project("- acme.fails: {}", active)), "--mlqa-stage", "production")
    res.assert_outcomes(xfailed=1)
    assert res.ret == 0


def test_k_selects_and_a_partial_stage_run_never_promotes(toy_project, run):
    cfg = toy_project(CHECKS)
    res = run("--mlqa-config", str(cfg), "-k", "duplicates")
    res.assert_outcomes(passed=1, deselected=3)
    assert res.ret == 0
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", "-k", "duplicates")
    res.assert_outcomes(passed=1, deselected=3)
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*acme.fails did not run*"])


def test_x_stops_at_the_first_blocking_failure(toy_project, run):
    cfg = toy_project("- acme.fails: {}\n- acme.ok: {}")
    res = run("--mlqa-config", str(cfg), "-x")
    res.assert_outcomes(failed=1)


def test_config_error_exits_2_naming_the_line(toy_project, run):
    cfg = toy_project("- acme.ok: {}\n- data.drfit: {}")
    res = run("--mlqa-config", str(cfg))
    assert res.ret == 2
    res.stderr.fnmatch_lines(["*mlqa.yaml:7: unknown check id `data.drfit`*", "*did you mean `data.drift`?*"])


def test_hand_written_tests_feed_the_gate(toy_project, pytester, run):
    """Hand-written tests record results the gate decides on, the README's hook gets the
    decision, and a fixture of an undeclared subject (`mlqa_baseline`) skips its test."""
    cfg = toy_project("- acme.ok: {}")
    pytester.makeconftest(_readme_hook())
    pytester.makepyfile(test_model="""
        import mlqa, pytest

        @pytest.mark.mlqa
        def test_business_rule(mlqa_model, mlqa_data, mlqa_record):
            pred = mlqa_model.predict(mlqa_data.test.X)
            share = float((pred == 1).mean())
            mlqa_record(mlqa.CheckResult(id="acme.positive_share", status="passed" if share < 0.9 else "failed",
                                         metrics={"share": share}, thresholds={"share": "< 0.9"}))

        def test_records_a_failure(mlqa_record):
            mlqa_record(mlqa.CheckResult(id="acme.manual_review", status="failed", message="not signed off"))

        def test_against_the_champion(mlqa_baseline):
            raise AssertionError("never runs: the config declares no baseline")
    """)
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", str(pytester.path), "-rs")
    res.assert_outcomes(passed=3, skipped=1)
    res.stdout.fnmatch_lines(["*mlqa_baseline: the config declares no `baseline:`*"])
    assert res.ret == 1  # every item passed, but a recorded result blocks the gate
    hooked = json.loads((pytester.path / "mlqa-decision.json").read_text())
    assert hooked["decision"] == "block" and hooked["stage"] == "production"
    assert [r.split(" ")[0] for r in hooked["reasons"]] == ["acme.manual_review"]
    decided = json.loads((pytester.path / "mlqa-out" / "decision.json").read_text())
    assert {c["id"] for c in decided["checks"]} == {"acme.ok", "acme.positive_share", "acme.manual_review"}


def test_fixtures_need_a_config(pytester, run):
    pytester.makepyfile("def test_x(mlqa_model):\n    pass\n")
    res = run()
    res.stdout.fnmatch_lines(["*needs an mlqa config*--mlqa-config*"])
    assert res.ret == 1


def test_plugin_can_be_disabled_and_leaves_plain_projects_alone(pytester, run):
    """Also with the README's `pytest_mlqa_decision` hook in a conftest: `-p no:mlqa` is a
    clean run, not an INTERNALERROR ("unknown hook"), and a project that does not use mlqa
    never gets the hook called."""
    pytester.makeconftest(_readme_hook())
    pytester.makepyfile("def test_x():\n    assert True\n")
    res = run("-p", "no:mlqa")
    res.assert_outcomes(passed=1)
    assert res.ret == 0 and "INTERNALERROR" not in res.stdout.str() + res.stderr.str()
    res = run()
    res.assert_outcomes(passed=1)
    assert "mlqa gate" not in res.stdout.str()
    assert not (pytester.path / "mlqa-decision.json").exists()


def test_mlqa_stack_fixture_starts_and_always_stops_the_stack(pytester):
    topo = pytester.makefile(".yaml", topology="zones: [z]\nnodes_per_zone: 1\ngpus_per_node: 0\n")
    pytester.makepyfile(test_stack_user="""
        import httpx
        def test_uses_it(mlqa_stack):
            state = mlqa_stack.state()
            assert state["ready"] and state["zones"] == ["z"]
            open("stack_id.txt", "w").write(mlqa_stack.stack_id)
            assert httpx.get(mlqa_stack.gateway_url + "/v2/health/ready").status_code == 200
            assert False, "a failing test must still stop the stack"
    """)
    res = pytester.runpytest_subprocess("--mlqa-stack-topology", str(topo), "-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    from mlqa.procs import tagged
    assert tagged(MLQA_STACK_ID=(pytester.path / "stack_id.txt").read_text()) == set()


def test_a_recorded_result_cannot_replace_a_deselected_check(toy_project, pytester, run):
    """Deselecting a failing check and recording a `passed` one under its id never promotes."""
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    pytester.makepyfile(test_manual="""
        import mlqa

        def test_manual(mlqa_record):
            mlqa_record(mlqa.CheckResult(id="acme.fails", status="passed"))
    """)
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", str(pytester.path), "-k", "ok or manual")
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*reason: acme.fails did not run*", "*mlqa: BLOCK (stage production)*"])


def test_deselecting_a_failing_check_and_recording_its_id_by_hand_blocks(toy_project, pytester, run):
    """The issue's reproduction: `-k "not performance"` deselects the failing configured
    check, a hand-written test records a `passed` result with the same id. The stage
    blocks (the configured check did not run); the recorded result is kept, attributed to
    the test that recorded it, and is not the configured check's evidence."""
    cfg = toy_project("- data.duplicates: {max_fraction: 0.05}\n"
                      "- performance.metric: {metric: accuracy, min: 0.999}")
    pytester.makepyfile(test_rules="""
        import mlqa

        def test_metric_by_hand(mlqa_record):
            mlqa_record(mlqa.CheckResult(id="performance.metric", status="passed",
                                         metrics={"accuracy": 1.0}, thresholds={"accuracy": ">= 0.999"}))
    """)
    out = pytester.path / "out"
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", "--mlqa-out", str(out),
              str(pytester.path), "-k", "not performance")
    res.assert_outcomes(passed=2, deselected=1)
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*reason: performance.metric did not run*", "*mlqa: BLOCK (stage production)*"])
    decision = json.loads((out / "decision.json").read_text())
    assert decision["decision"] == "block"
    rows = {r["id"]: r for r in json.loads((out / "results.json").read_text())["checks"]}
    assert sorted(rows) == ["data.duplicates", "performance.metric"]
    assert rows["data.duplicates"]["recorded_by"] is None
    assert rows["performance.metric"]["recorded_by"].endswith("test_rules.py::test_metric_by_hand")
    recorded = [c for c in decision["checks"] if c["id"] == "performance.metric"]
    assert len(recorded) == 1 and "not run" in recorded[0]["note"]
    # without the deselection the configured check runs, fails and blocks, whatever was recorded
    res = run("--mlqa-config", str(cfg), "--mlqa-stage", "production", "--mlqa-out", str(out), str(pytester.path))
    assert res.ret == 1
    rows = json.loads((out / "decision.json").read_text())["checks"]
    assert sorted((r["id"], r["status"], r["recorded_by"] is None, r["blocks"]) for r in rows) == [
        ("data.duplicates", "passed", True, False), ("performance.metric", "failed", True, True),
        ("performance.metric", "passed", False, False)]


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_hook() -> str:
    """The README's conftest.py example of the `pytest_mlqa_decision` hook."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
              if "def pytest_mlqa_decision" in b]
    assert len(blocks) == 1, "one example of the hook in README.md"
    return blocks[0]



def test_the_hook_not_marked_optional_is_what_breaks_a_run_without_the_plugin(pytester, run):
    """The twin of test_plugin_can_be_disabled_and_leaves_plain_projects_alone: without
    `optionalhook=True`, `-p no:mlqa` stops with "unknown hook" — so the README's marker is
    what makes that run clean (and `-p no:mlqa` really leaves mlqa's hook specs out)."""
    pytester.makepyfile("def test_plain():\n    assert True\n")
    pytester.makeconftest(_readme_hook().replace("@pytest.hookimpl(optionalhook=True)", ""))
    res = run("-p", "no:mlqa", str(pytester.path))
    assert res.ret != 0 and "unknown hook" in res.stdout.str() + res.stderr.str()


class _Ctx:
    """The two things `_loaded` asks of a check context."""

    def __init__(self, subjects, errors):
        self._subjects, self.subject_errors = subjects, errors

    def subject(self, name):
        return self._subjects.get(name)


def test_a_subject_fixture_skips_when_undeclared_and_fails_when_unloadable():
    from mlqa.pytest_plugin import _loaded
    with pytest.raises(pytest.skip.Exception, match="declares no `baseline:`"):
        _loaded(_Ctx({}, {}), "baseline")
    with pytest.raises(pytest.fail.Exception, match="declares `baseline:` but it could not be loaded: mlqa.yaml:3: boom"):
        _loaded(_Ctx({}, {"baseline": "mlqa.yaml:3: boom"}), "baseline")
    model = object()
    assert _loaded(_Ctx({"model": model}, {}), "model") is model
