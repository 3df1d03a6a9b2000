import itertools

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlqa.errors import ConfigError
from mlqa.yamldoc import load_yaml


def test_lines_of_keys_and_items():
    doc = load_yaml("version: 1\nchecks:\n  - data.missing: {max_fraction: 0.1}\n  - data.drift\n", "f.yaml")
    assert doc.line("checks", 0, "data.missing", "max_fraction") == 3
    assert doc.line("checks", 1) == 4
    assert doc.line("checks", 7) == 2  # falls back to the parent


def test_duplicate_keys_are_errors_not_silent_overrides():
    with pytest.raises(ConfigError) as err:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert err.value.line == 3 and "duplicate key `a`" in str(err.value) and "line 1" in str(err.value)


def test_bad_yaml_names_the_line():
    with pytest.raises(ConfigError) as err:
        load_yaml("version: 1\nchecks: [a\nb: 2\n", "f.yaml")
    assert err.value.file == "f.yaml" and err.value.line == 3


@pytest.mark.parametrize("text", ["model: !!python/object/apply:os.system ['true']\n",
                                  "model: !!python/name:os.system\n",
                                  "a: 1\nmodel: !!python/object:os.Foo {x: 1}\n"])
def test_python_tags_are_refused(text):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    assert err.value.line == text.count("\n")


def test_empty_file():
    with pytest.raises(ConfigError, match="empty"):
        load_yaml("", "f.yaml")


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
trees = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                   st.dictionaries(st.text(min_size=1, max_size=8), c, max_size=4)),
                     max_leaves=12)


@given(trees)
def test_same_values_as_safe_load(tree):
    text = yaml.safe_dump({"root": tree})
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)


# ------------------------------------------------------------------ hostile documents
def laughs(levels: int = 9, width: int = 9) -> str:
    """The 'billion laughs': `levels` lists of `width` aliases of the list before (~400 bytes
    for 9 x 9; it would expand to 9**10 strings)."""
    lines = ["a: &a [" + ",".join(['"lol"'] * width) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"[:levels + 1]
    for prev, cur in itertools.pairwise(names):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


class _Budget:
    """Counts the loader's constructions and stops a run-away expansion early (so the
    test fails in a moment on a loader that does not memoize, instead of after minutes)."""

    def __init__(self, monkeypatch, limit: int = 20_000) -> None:
        self.calls, self.limit = 0, limit
        real = yaml.SafeLoader.construct_object

        def counted(loader, node, deep=False):
            self.calls += 1
            if self.calls > self.limit:
                raise AssertionError(f"more than {self.limit} constructions: aliases are expanded, not shared")
            return real(loader, node, deep=deep)
        monkeypatch.setattr(yaml.SafeLoader, "construct_object", counted)


def test_a_billion_laughs_is_refused_at_once_with_its_line(monkeypatch):
    text = laughs()
    assert len(text) < 410
    budget = _Budget(monkeypatch)
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "bomb.yaml")
    assert "expands to more than" in err.value.problem and err.value.file == "bomb.yaml"
    assert err.value.line is not None and 1 <= err.value.line <= 10 and err.value.hint
    assert budget.calls < 200


def test_shared_aliases_below_the_cap_load_once_and_keep_their_values(monkeypatch):
    budget = _Budget(monkeypatch)
    doc = load_yaml(laughs(levels=4, width=9), "f.yaml")  # 9**5 = 59049 strings: below the cap
    assert doc.data == yaml.safe_load(laughs(levels=4, width=9)) and budget.calls < 200


@pytest.mark.parametrize("text, line", [("a: &a [1, *a]\n", 1), ("x: 1\nb: &b {c: *b}\n", 2),
                                        ("a: &a\n  - b: &b\n      - *a\n", 3)])
def test_a_recursive_alias_is_an_error_at_its_line(text, line):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    assert "recursive alias" in err.value.problem and err.value.line == line


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
                                  "".join("  " * i + "- \n" for i in range(2000)),
                                  "a: " + "[" * 200 + "]" * 200 + "\n"])
def test_absurd_nesting_is_an_error_not_a_crash(text):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    assert "nested deeper than" in err.value.problem and err.value.line is not None


def test_reasonable_nesting_loads():
    text = "a: " + "[" * 60 + "1" + "]" * 60 + "\n"
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)


def test_merge_keys_keep_safe_load_semantics():
    text = ("base: &base {x: 1, y: 2}\nmore: &more {y: 3, z: 4}\n"
            "a: {<<: *base, y: 9}\nb: {<<: [*base, *more], w: 0}\nc: {<<: *more}\n")
    doc = load_yaml(text, "f.yaml")
    assert doc.data == yaml.safe_load(text)
    assert doc.data["a"] == {"x": 1, "y": 9} and doc.data["b"] == {"x": 1, "y": 2, "z": 4, "w": 0}
    assert doc.line("b", "z") == 4


def test_a_merge_key_bomb_is_refused_at_once(monkeypatch):
    lines = ["a: &a {x: [1, 2, 3]}"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} {{<<: [" + ",".join([f"*{prev}"] * 9) + "], "
                     + ", ".join(f"k{i}: *{prev}" for i in range(9)) + "}")
    budget = _Budget(monkeypatch)
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml("\n".join(lines) + "\n", "f.yaml")
    assert budget.calls < 500


@pytest.mark.parametrize("text, line", [("a: 1\n<<: 5\n", 2), ("a: 1\nb: {<<: [1, 2]}\n", 2),
                                        ("x: &x [1]\nb: {<<: *x}\n", 2), ("a: &a {<<: *a}\n", 1)])
def test_a_bad_merge_is_an_error(text, line):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    assert err.value.line == line


@pytest.mark.parametrize("text, line", [("a: 1\nexpires: 2026-13-45\n", 2), ("a: !!int x\n", 1),
                                        ("a: !!bool maybe\n", 1), ("? [a, b]\n: 1\n", 1),
                                        ("? &k {a: 1}\n: 2\n", 1), ("a: !!timestamp 2020-02-30\n", 1),
                                        ("a: !!float nope\n", 1), ("a: !!set {x}\n", 1)])
def test_scalars_yaml_cannot_build_are_errors_at_their_line(text, line):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    assert err.value.line == line


@given(trees, trees)
def test_shared_subtrees_written_as_aliases_load_as_safe_load_does(a, b):
    shared = {"a": a, "b": b}
    text = yaml.safe_dump({"x": shared, "y": [shared, a], "z": {"k": b}})
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)


mappings = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), scalars, max_size=4)


@given(st.lists(mappings, min_size=1, max_size=4), mappings, st.booleans())
def test_merge_keys_load_as_safe_load_does(sources, own, as_list):
    anchors = "".join(f"s{i}: &s{i} {yaml.safe_dump(m, default_flow_style=True).strip()}\n"
                      for i, m in enumerate(sources))
    merge = ("[" + ", ".join(f"*s{i}" for i in range(len(sources))) + "]") if as_list else "*s0"
    body = yaml.safe_dump(own, default_flow_style=True).strip()[1:-1]
    text = anchors + "m: {<<: " + merge + (", " + body if body else "") + "}\n"
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)
