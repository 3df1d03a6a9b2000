import pytest
import yaml
from hypothesis import given, strategies as st

from mlqa.yamldoc import load_yaml
from mlqa.errors import ConfigError


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
