"""mlqa.units: the one reader of rates and durations (serve's limits used to carry a copy)."""
import pytest

from mlqa.errors import MlqaError
from mlqa.serve import parse_limit, parse_seconds
from mlqa.units import parse_duration, parse_rate, parse_rate_parts


@pytest.mark.parametrize("text, parts, rate", [("100/s", (100, 1), 100), ("30/min", (30, 60), 0.5),
                                               ("3600/h", (3600, 3600), 1), ("7", (7, 1), 7),
                                               (" 12 / Second ", (12, 1), 12)])
def test_rates(text, parts, rate):
    assert parse_rate_parts(text) == parts and parse_rate(text) == rate


@pytest.mark.parametrize("text, seconds", [("20s", 20), ("500ms", 0.5), ("2m", 120), ("1h", 3600), ("3", 3)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["fast", "10/fortnight", "-5/s", "1e3/s", ""])
def test_what_is_not_a_rate_is_refused(bad):
    with pytest.raises(MlqaError):
        parse_rate(bad)


def test_serve_reads_its_flags_through_units_and_keeps_its_ranges():
    assert parse_limit("30/min").burst == 30 and parse_limit("30/min").rate == 0.5
    assert parse_seconds("500ms", "--keep-alive") == 0.5
    for bad in ("0/s", "10/fortnight"):
        with pytest.raises(MlqaError, match="--rate-limit"):
            parse_limit(bad, "--rate-limit")
    with pytest.raises(MlqaError, match="at most 3600"):
        parse_seconds("2h", "--body-timeout")
