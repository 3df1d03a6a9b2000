"""The JSON Schema of mlqa.yaml (editor support): generated from the registry, shipped in
the package as generated, and every config in the repository validates against it."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa.cli import main
from mlqa.config import top_keys
from mlqa.params import is_numeric, range_of
from mlqa.registry import Registry
from mlqa.schema import builtin_registry, config_schema, render, shipped_path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = config_schema(builtin_registry())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def plain(value):
    """What an editor sees: YAML dates as the strings they are written as."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def errors(doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in VALIDATOR.iter_errors(plain(doc))]


def test_the_shipped_schema_is_the_generated_one():
    assert shipped_path() == ROOT / "reports" / "mlqa.schema.json"  # an editable install: the repo's file
    assert shipped_path().read_text() == render(SCHEMA), "run `make docs`"


def test_the_schema_ships_in_the_wheel():
    """reports/ is packaged as mlqa/_assets/reports (where `shipped_path` looks in a wheel)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"reports" = "mlqa/_assets/reports"' in pyproject


def test_the_schema_is_a_valid_draft_7_schema_covering_every_key_and_check():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert list(SCHEMA["properties"]) == list(top_keys())
    for spec in Registry.discover():
        definition = SCHEMA["definitions"][spec.id]
        assert spec.summary in definition["description"]
        for p in spec.params:
            prop = definition["properties"][p.name]
            assert prop["description"].startswith(p.doc), (spec.id, p.name)
            if is_numeric(p.annotation):
                assert re.search(r'"(exclusiveM|m)(in|ax)imum"', json.dumps(prop)) or range_of(p.annotation).lo is None \
                    and range_of(p.annotation).hi is None, (spec.id, p.name)
        assert [p.name for p in spec.params if p.required] == definition.get("required", [])


def _configs() -> list[Path]:
    found = [*ROOT.glob("examples/*/*.yaml"), *ROOT.glob("bench/*.yaml")]
    return sorted(p for p in found if re.search(r"^version: 1$", p.read_text(), re.MULTILINE)
                  and "steady_state" not in p.read_text())


@pytest.mark.parametrize("path", _configs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_config_validates(path):
    assert errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", sorted(ROOT.glob("suites/*.yaml")), ids=lambda p: p.name)
def test_every_shipped_preset_validates(path):
    preset = yaml.safe_load(path.read_text())
    assert errors({"version": 1, "checks": preset["checks"]}) == []


def _readme_configs() -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    out = []
    for block in blocks:
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and set(doc) <= set(top_keys()) and "steady_state" not in block:
            out.append(block)
    return out


def test_the_readme_yaml_blocks_of_mlqa_yaml_validate():
    blocks = _readme_configs()
    assert len(blocks) >= 3
    for block in blocks:
        assert errors({"version": 1, **yaml.safe_load(block)}) == [], block


@pytest.mark.parametrize("doc, where", [
    ({"version": 1, "checks": [{"data.drift": {"max_psi": -5}}]}, "max_psi"),
    ({"version": 1, "checks": [{"data.drfit": {}}]}, "checks/0"),
    ({"version": 1, "checks": ["performance.metric"]}, "checks/0"),       # `metric` is required
    ({"version": 1, "checks": [{"performance.metric[auc]": {"min": 0.9}}]}, "checks/0"),
    ({"version": 1, "endpoint": {"url": "http://x", "token": "s3cret"}}, "endpoint"),
    ({"version": 1, "gate": {}}, "gate"),
    ({"version": 2}, "version"),
    ({"version": 1, "gates": {"production": {"waivers": [{"check": "x"}]}}}, "waivers"),
])
def test_what_the_loader_refuses_the_schema_refuses_too(doc, where):
    found = errors(doc)
    assert found and any(where in e for e in found), found


def test_instances_one_column_and_timeouts_are_accepted():
    assert errors({"version": 1, "checks": [
        {"performance.metric[auc]": {"metric": "roc_auc", "min": 0.9, "timeout": 60}},
        {"fairness.demographic_parity": {"sensitive": "race"}}, "data.drift", {"data.missing": None}]}) == []


NUMERIC = [(s, p) for s in builtin_registry() for p in s.params if is_numeric(p.annotation) and range_of(p.annotation)]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(NUMERIC), data=st.data())
def test_the_schema_and_the_loader_agree_on_ranges(case, data):
    """A value the loader refuses as out of range is refused by the schema; one it takes, taken."""
    from mlqa.params import ParamTypeError, coerce
    spec, param = case
    text = str(param.annotation)
    integer = "int" in text and "float" not in text  # (1.0 is an integer to JSON Schema, not to the loader)
    value = data.draw(st.integers(-10**6, 10**6) if integer else st.floats(-1e6, 1e6) | st.integers(-10**6, 10**6))
    wrapped = {"a": value} if "dict[" in text else [value] if "list[" in text else value
    try:
        coerce(wrapped, param.annotation, "p")
        loader = True
    except ParamTypeError:
        loader = False
    params = {param.name: wrapped}
    if spec.id == "performance.metric":
        params.setdefault("metric", "accuracy")
    for other in spec.params:  # the other required parameters, at a valid value
        if other.required and other.name not in params:
            params[other.name] = 1.0
    found = [e for e in errors({"version": 1, "checks": [{spec.id: params}]})]
    assert (not found) == loader, (spec.id, param.name, value, found)


def test_mlqa_schema_prints_the_schema_and_its_path(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["definitions"]) >= set(SCHEMA["definitions"])
    assert main(["schema", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(shipped_path())
