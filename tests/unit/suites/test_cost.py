"""cost.per_1k_predictions: its parameters (the priced measurement is tested against a real
server in tests/integration/test_capacity_cost.py)."""
import pytest

from mlqa.suites.cost._per_1k import _validate as validate_cost


@pytest.mark.parametrize("params", [{"max_usd": 1}, {"price_per_hour": 2, "max_usd": -1},
                                    {"price_per_hour": 2, "max_usd": 1, "utilization": 0}])
def test_bad_cost_params_are_rejected(params):
    with pytest.raises(ValueError):
        validate_cost(params)
