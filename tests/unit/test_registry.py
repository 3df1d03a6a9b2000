import sys

import pytest

import mlqa
from mlqa import CheckResult, Columns, check
from mlqa.registry import Registry, spec_of


def test_builtins_register_through_the_entry_point_group():
    reg = Registry.discover()
    for cid in ("data.schema", "data.missing", "data.duplicates", "data.label_leakage", "data.drift",
                "data.train_test_overlap", "performance.metric", "performance.slices",
                "performance.calibration", "performance.simple_baseline", "performance.regression"):
        assert cid in reg, cid


def test_signature_becomes_parameters_with_docs():
    @check("acme.budget", requires=("model",))
    def budget(ctx, *, max_ms: float = 50.0, columns: Columns | None = None):
        """Latency budget.

        Parameters:
        max_ms: the budget in milliseconds
        """
        return CheckResult(status="passed")
    spec = spec_of(budget)
    assert spec.summary == "Latency budget." and spec.requires == ("model",)
    assert spec.param("max_ms").doc == "the budget in milliseconds"
    assert spec.param("columns").names_columns
    assert spec.bind({}) == {"max_ms": 50.0, "columns": None}
    with pytest.raises(KeyError, match="did you mean `max_ms`"):
        spec.bind({"max_m": 3})


def test_parameters_must_be_keyword_only():
    with pytest.raises(TypeError, match="keyword-only"):
        @check("acme.bad")
        def bad(ctx, threshold=1):
            return None


@pytest.mark.parametrize("cid", ["Acme.x", "acme", "acme.", "acme x"])
def test_ids_are_suite_dot_name(cid):
    with pytest.raises(ValueError):
        check(cid)


def test_plugin_module_registers_like_a_builtin(tmp_path, monkeypatch):
    (tmp_path / "acme_registry_plugin.py").write_text(
        "import mlqa\n"
        "@mlqa.check('acme.always')\n"
        "def always(ctx, *, level: int = 1):\n"
        "    '''Always passes.'''\n"
        "    return mlqa.CheckResult(status='passed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry.discover(["acme_registry_plugin"])
    assert "acme.always" in reg and "data.drift" in reg
    sys.modules.pop("acme_registry_plugin", None)


def test_two_checks_with_one_id_are_refused():
    @check("acme.twice")
    def one(ctx):
        return None

    @check("acme.twice")
    def two(ctx):
        return None
    reg = Registry()
    reg.add_object(one)
    with pytest.raises(mlqa.MlqaError, match="registered twice"):
        reg.add_object(two)
