"""No user input is an internal error: whatever bytes or YAML a config file holds,
`mlqa.load_config` returns a Config or raises a `ConfigError` / `MlqaError` (exit 2) —
never anything else (exit 3)."""
import datetime as dt
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_yamldoc import laughs  # (pytest puts tests/unit on sys.path)

from mlqa.cli import main
from mlqa.config import load_config
from mlqa.errors import MlqaError
from mlqa.registry import Registry

REGISTRY = Registry.discover(())
#: MLQA_FUZZ_EXAMPLES=5000 for a longer search by hand
SETTINGS = settings(max_examples=int(os.environ.get("MLQA_FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A project folder with two small splits, for configs that name them."""
    path = tmp_path_factory.mktemp("fuzz")
    (path / "train.csv").write_text("x,label\n1,0\n2,1\n")
    (path / "test.csv").write_text("x,label\n3,0\n4,1\n")
    return path


def load(folder: Path, data: bytes) -> None:
    path = folder / "mlqa.yaml"
    path.write_bytes(data)
    try:
        load_config(path, registry=REGISTRY)
    except MlqaError:
        pass


KEYS = ["version", "include", "plugins", "seed", "checks", "gates", "data", "model", "baseline", "endpoint",
        "image", "deepchecks", "train", "test", "label", "positive_label", "sensitive", "features", "task",
        "path", "python", "trusted", "format", "isolation", "url", "protocol", "auth", "header", "token_env",
        "replicas", "timeout", "production", "staging", "blocking", "advisory", "waivers", "on_error", "check",
        "reason", "owner", "expires", "data.drift", "data.missing", "performance.metric", "performance.metric[a]",
        "max_psi", "max_fraction", "metric", "min", "columns", "<<", "x", "label"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=20),
    st.sampled_from([1, "train.csv", "test.csv", "label", "*", "data.*", "dta.*", "accuracy", "x", ".inf",
                     "2026-13-45", "block", "advisory", "classification", "regression", "http://127.0.0.1:1"]),
    st.dates(), st.datetimes(), st.binary(max_size=8))
trees = st.recursive(scalars, lambda c: st.one_of(
    st.lists(c, max_size=5),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(), st.booleans()),
                    c, max_size=6)), max_leaves=30)
configs = st.fixed_dictionaries({"version": st.sampled_from([1, 1, 1, 2, "1", None])},
                                optional={k: trees for k in ("data", "checks", "gates", "model", "endpoint",
                                                             "include", "seed", "plugins", "image", "deepchecks")})


@SETTINGS
@given(configs)
def test_any_structure_is_a_config_or_a_config_error(folder, tree):
    if "plugins" in tree:
        tree["plugins"] = []  # (a registry is given: plugins are never imported here)
    load(folder, yaml.safe_dump(tree, allow_unicode=True).encode())


SPECS = sorted(REGISTRY, key=lambda spec: spec.id)
values = st.one_of(scalars, trees, st.lists(st.sampled_from(["x", "label", "sex", "p95 < 50ms", "x > 0"])))


@st.composite
def checks(draw):
    """`- check.id: {params}` entries of real checks, with their real parameter names
    (and `timeout`) bound to arbitrary values."""
    out = []
    for spec in draw(st.lists(st.sampled_from(SPECS), max_size=4)):
        names = [p.name for p in spec.params] + ["timeout", "nope"]
        params = draw(st.dictionaries(st.sampled_from(names), values, max_size=4))
        key = spec.id + draw(st.sampled_from(["", "", "[a]", "[b:c]"]))
        out.append({key: params} if draw(st.integers(0, 9)) else key)
    return out


stages = st.dictionaries(st.sampled_from(["production", "staging", 1, ""]), st.one_of(values, st.fixed_dictionaries(
    {}, optional={"blocking": values, "advisory": values, "on_error": values,
                  "waivers": st.lists(st.fixed_dictionaries({}, optional={
                      "check": values, "reason": values, "owner": values, "expires": values}), max_size=2)})),
    max_size=2)


@SETTINGS
@given(checks(), stages)
def test_any_checks_and_gates_on_valid_data_are_a_config_or_a_config_error(folder, entries, gates):
    tree = {"version": 1, "data": {"train": "train.csv", "test": "test.csv", "label": "label"},
            "checks": entries, "gates": gates}
    load(folder, yaml.safe_dump(tree, allow_unicode=True).encode())


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_are_a_config_or_a_config_error(folder, data):
    load(folder, data)


YAMLISH = st.lists(st.one_of(st.sampled_from(list("&*[]{}:,-!<>|?'\"#%@`=~. \n\t\\abcx019")),
                             st.sampled_from(["<<: ", "!!", "&a ", "*a", "version: 1\n", "checks:\n", ": "])),
                   max_size=120).map("".join)


@SETTINGS
@given(YAMLISH)
def test_any_yaml_ish_text_is_a_config_or_a_config_error(folder, text):
    load(folder, text.encode())


@SETTINGS
@given(st.lists(st.sampled_from(["version: 1", "checks:", "  - data.drift: {timeout: .inf}", "  - &a [*a]",
                                 "gates: {p: {blocking: *a}}", "a: &a [1, 2]", "b: &b [*a, *a, *a]",
                                 "c: [*b, *b, *b, *b]", "data: {<<: *a}", "x: {<<: [*a]}", "  - [[[[[[]]]]]]",
                                 "seed: 2026-02-30", "model: !!python/name:os.system", "? [1]", ": 2",
                                 "gates:", "  production:", "    blocking: [dta.*]", "    waivers: [{}]"]),
                max_size=12))
def test_any_sequence_of_tricky_lines_is_a_config_or_a_config_error(folder, lines):
    load(folder, "\n".join(lines).encode())


@pytest.mark.parametrize("text", [laughs(), "version: 1\nchecks: &c\n  - data.drift: {}\n  - x: *c\n",
                                  "version: 1\nchecks: " + "[" * 3000 + "]" * 3000 + "\n",
                                  "version: 1\nchecks:\n  - data.drift: {timeout: .nan}\n",
                                  ("version: 1\ngates: {p: {waivers: [{check: x, reason: r, owner: o, "
                                   "expires: 2026-13-45}]}}\n")])
def test_hostile_configs_exit_2_with_a_line(tmp_path, capsys, text):
    path = tmp_path / "mlqa.yaml"
    path.write_text(text)
    assert main(["run", str(path)]) == 2
    assert f"{path}:" in capsys.readouterr().err


def test_dates_and_times_in_a_tree_are_data_not_crashes(folder):
    tree = {"version": 1, "seed": dt.date(2020, 1, 1), "checks": [{"data.drift": dt.datetime.now()}]}
    load(folder, yaml.safe_dump(tree).encode())
