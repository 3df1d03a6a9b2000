"""Subjects are declared in one table: a new kind of subject (the chaos engine's `stack`) is
one row, and mlqa.yaml, `requires=`, the context, missing-subject errors and the
decision's `subject` all follow from it."""
from pathlib import Path

import pytest

import mlqa
from mlqa import subjects
from mlqa.config import top_keys
from mlqa.context import CheckContext, build_context
from mlqa.errors import SubjectError


def test_the_table_drives_the_config_keys_the_requires_names_and_the_context():
    names = subjects.subject_names()
    assert names == ("model", "baseline", "train", "test", "endpoint", "image")
    assert {"model", "baseline", "data", "endpoint", "image"} <= set(top_keys())
    with pytest.raises(ValueError, match="unknown subject"):
        mlqa.check("acme.x", requires=("modle",))
    with pytest.raises(TypeError, match="unknown subject"):
        CheckContext(modle=1)


def _parse_stack(doc, key, value, base: Path):
    if value is None:
        return None
    value = doc.mapping(value, (key,), "topology: FILE")
    doc.known_keys(value, ("topology",), (key,))
    return {"topology": str((base / value["topology"]).resolve())}


def _build_stack(config, name):
    section = config.section(name)
    if section is None:
        return None
    if not Path(section["topology"]).exists():
        raise SubjectError(f"topology {section['topology']} not found")
    return {"attached_to": section["topology"]}


STACK_ROW = subjects.SubjectKind(
    "stack", "stack", "declare `stack: {topology: FILE}`", _parse_stack, _build_stack,
    lambda config, name: {"stack": config.section(name)["topology"]} if config.section(name) else {})


@pytest.fixture
def with_stack_row(monkeypatch):
    monkeypatch.setattr(subjects, "SUBJECTS", subjects.SUBJECTS + (STACK_ROW,))


def test_one_row_adds_a_subject_end_to_end(with_stack_row, toy_project):
    assert "stack" in top_keys() and "stack" in subjects.subject_names()

    @mlqa.check("chaos.zone_outage", requires=("stack",))
    def zone_outage(ctx):
        return mlqa.CheckResult(status="passed", message=f"broke {ctx.stack['attached_to']}",
                                evidence={"same": ctx.subject("stack") == ctx.stack})

    cfg = toy_project("- acme.ok: {}")
    (cfg.parent / "topology.yaml").write_text("zones: [a]\n")
    cfg.write_text(cfg.read_text().replace("version: 1\n", "version: 1\nstack: {topology: topology.yaml}\n"))
    config = mlqa.load_config(cfg)
    assert config.section("stack") == {"topology": str(cfg.parent / "topology.yaml")}
    ctx = build_context(config)
    assert ctx.has("stack") and ctx.stack == {"attached_to": str(cfg.parent / "topology.yaml")}
    from mlqa.registry import spec_of
    from mlqa.session import run_check
    res = run_check(spec_of(zone_outage), ctx, {})
    assert res.status == "passed" and res.evidence["same"] is True
    assert mlqa.Session(config).finish().subject["stack"] == str(cfg.parent / "topology.yaml")


def test_a_missing_or_broken_row_subject_is_an_error_naming_what_to_do(with_stack_row, toy_project):
    @mlqa.check("chaos.node_kill", requires=("stack",))
    def node_kill(ctx):
        return mlqa.CheckResult(status="passed")

    from mlqa.registry import spec_of
    from mlqa.session import run_check
    res = run_check(spec_of(node_kill), CheckContext(), {})
    assert res.status == "error" and "declare `stack: {topology: FILE}`" in res.message
    cfg = toy_project("- acme.ok: {}")
    cfg.write_text(cfg.read_text().replace("version: 1\n", "version: 1\nstack: {topology: gone.yaml}\n"))
    ctx = build_context(mlqa.load_config(cfg))
    res = run_check(spec_of(node_kill), ctx, {})
    assert res.status == "error" and "could not be loaded" in res.message and "gone.yaml not found" in res.message


def test_an_unknown_key_is_still_a_config_error_without_the_row(toy_project):
    cfg = toy_project("- acme.ok: {}")
    cfg.write_text(cfg.read_text().replace("version: 1\n", "version: 1\nstack: {topology: t.yaml}\n"))
    with pytest.raises(mlqa.ConfigError, match="unknown key `stack`"):
        mlqa.load_config(cfg)


def test_subject_info_identifies_what_was_tested(toy_project):
    cfg = toy_project("- acme.ok: {}")
    info = subjects.subject_info(mlqa.load_config(cfg))
    assert info["config"] == str(cfg) and len(info["config_sha256"]) == 64
    assert info["model"] == {"python": "toy_model:factory", "isolation": "process"}
    assert set(info["data_train"]) == {"path", "sha256"} and set(info["data_test"]) == {"path", "sha256"}


def test_a_context_can_have_a_subject_replaced_in_a_test():
    ctx = CheckContext(endpoint={"url": "http://127.0.0.1:1"})
    view = ctx.for_check(mlqa.Deadline(5))
    ctx.endpoint = {"url": "http://127.0.0.1:2"}
    assert ctx.endpoint["url"].endswith(":2") and ctx.has("endpoint") and not ctx.has("model")
    assert view.deadline is not ctx.deadline and ctx.deadline.remaining() == float("inf")
