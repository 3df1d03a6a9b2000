"""Every numeric parameter of every registered check declares the values it takes, and the
config loader refuses a value outside them at its line (`max_psi: -5` was accepted)."""
from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlqa.config import parse_config
from mlqa.errors import ConfigError
from mlqa.params import Range, is_numeric, range_of
from mlqa.registry import Registry
from mlqa.yamldoc import load_yaml

REGISTRY = Registry.discover()
NUMERIC = [(spec, p) for spec in REGISTRY for p in spec.params if is_numeric(p.annotation)]


def test_there_are_numeric_parameters_to_check():
    assert len(NUMERIC) > 90  # every suite has some; a refactor that hides them fails here


@pytest.mark.parametrize("spec, param", NUMERIC, ids=[f"{s.id}.{p.name}" for s, p in NUMERIC])
def test_every_numeric_parameter_declares_a_range_and_its_default_is_in_it(spec, param):
    rng = range_of(param.annotation)
    assert rng is not None, f"{spec.id}.{param.name} ({param.type_name}) declares no Range"
    assert "(" in param.type_name, "the range shows in `mlqa checks`"
    if not param.required and isinstance(param.default, (int, float)) and not isinstance(param.default, bool):
        assert rng.contains(param.default), f"{spec.id}.{param.name}: default {param.default} outside {rng}"


def _outside(rng: Range, integer: bool) -> st.SearchStrategy:
    """Values of the right type outside `rng` (and, for floats, the non-finite ones)."""
    options = []
    step = st.integers(1, 10**6) if integer else st.floats(1e-6, 1e6)
    if rng.lo is not None:
        options.append(step.map(lambda d: rng.lo - d))
        if rng.lo_open:
            options.append(st.just(int(rng.lo) if integer and rng.lo == int(rng.lo) else rng.lo))
    if rng.hi is not None:
        options.append(step.map(lambda d: rng.hi + d))
        if rng.hi_open:
            options.append(st.just(rng.hi))
    if not integer:
        options.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    return st.one_of(options)


def _wrap(annotation, value):
    """`value` where the annotation puts its numbers: itself, a list item, a mapping value."""
    text = str(annotation)
    if "dict[" in text:
        return {"a": value}
    if "list[" in text:
        return [value]
    return value


def _is_integer(annotation) -> bool:
    text = str(annotation)
    return "int" in text and "float" not in text


CASES = [(spec, p) for spec, p in NUMERIC if range_of(p.annotation) is not None]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), data=st.data())
def test_an_out_of_range_value_is_refused_at_its_line(case, data):
    spec, param = case
    rng = range_of(param.annotation)
    value = data.draw(_outside(rng, _is_integer(param.annotation)))
    # dump as YAML (`.nan`, `.inf` and numbers as written), the parameter on line 4
    body = yaml.safe_dump({param.name: _wrap(param.annotation, value)}, default_flow_style=True).strip()
    text = f"version: 1\nchecks:\n  - {spec.id}:\n      {body[1:-1]}\n"
    with pytest.raises(ConfigError) as err:
        parse_config(load_yaml(text, "/cfg/mlqa.yaml"), registry=REGISTRY)
    assert err.value.file == "/cfg/mlqa.yaml" and err.value.line == 4, str(err.value)
    assert f"{spec.id}.{param.name}" in err.value.problem and "must be" in err.value.problem


@pytest.mark.parametrize("check, params, message", [
    ("data.drift", "{max_psi: -5}", "data.drift.max_psi must be >= 0"),
    ("data.missing", "{max_fraction: 1.5}", "data.missing.max_fraction must be 0..1"),
    ("data.missing", "{per_column: {age: -0.1}}", "data.missing.per_column.age must be 0..1"),
    ("fairness.demographic_parity", "{max_difference: .nan}", "must be a finite number"),
    ("robustness.noise", "{rows: 0}", "robustness.noise.rows must be >= 1"),
    ("latency.inference", "{batch_sizes: [1, -32]}", "latency.inference.batch_sizes[1] must be >= 1"),
    ("performance.regression", "{confidence: 1.0}", "must be >= 0.5, < 1"),
    ("performance.metric", "{metric: accuracy, min: .inf}", "performance.metric.min must be a finite number"),
])
def test_range_errors_say_which_values_are_allowed(check, params, message):
    text = f"version: 1\nchecks:\n  - {check}: {params}\n"
    with pytest.raises(ConfigError) as err:
        parse_config(load_yaml(text, "mlqa.yaml"), registry=REGISTRY)
    assert err.value.line == 3 and message in str(err.value), str(err.value)


@given(st.floats(0, 1), st.booleans())
def test_values_in_range_load(value, as_python_prints_it):
    """In range: loads, also when written `1e-05` (a number to YAML 1.2, a string to PyYAML)."""
    written = repr(value) if as_python_prints_it else yaml.safe_dump(value).split("\n")[0]
    text = f"version: 1\nchecks:\n  - data.missing: {{max_fraction: {written}}}\n"
    config = parse_config(load_yaml(text, "mlqa.yaml"), registry=REGISTRY)
    assert config.checks[0].params["max_fraction"] == value
