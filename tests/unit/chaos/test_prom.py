"""The prometheus probe's expressions, evaluated over hand-written scrapes."""
from __future__ import annotations

import math

import pytest

from mlqa.chaos._prom import PromError, Series, holds, parse_expr, parse_scrape


# ------------------------------------------------------------------ parse_expr
def test_instant_value():
    e = parse_expr('mlqa_gateway_healthy_replicas{zone="zone-a"} >= 1')
    assert (e.form, e.metric, e.labels, e.window_s, e.quantile, e.op, e.bound) == (
        "value", "mlqa_gateway_healthy_replicas", (("zone", "=", "zone-a"),), None, None, ">=", 1.0)


def test_rate_with_matchers():
    e = parse_expr('rate(req_total{status="503", zone!="zone-b"}[5s]) < 0.5')
    assert e.form == "rate" and e.metric == "req_total" and e.window_s == 5.0
    assert e.labels == (("status", "=", "503"), ("zone", "!=", "zone-b"))
    assert (e.op, e.bound) == ("<", 0.5)


@pytest.mark.parametrize(("window", "seconds"), [("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1.5s", 1.5)])
def test_increase_windows(window, seconds):
    e = parse_expr(f"increase(retries_total[{window}]) <= 50")
    assert e.form == "increase" and e.window_s == seconds and e.labels == () and e.bound == 50


def test_histogram_quantile():
    e = parse_expr('histogram_quantile(0.99, lat_seconds{zone="a"}[10s]) < 0.5')
    assert (e.form, e.metric, e.quantile, e.window_s, e.bound) == ("hq", "lat_seconds", 0.99, 10.0, 0.5)
    assert e.labels == (("zone", "=", "a"),)
    cumulative = parse_expr("histogram_quantile(0.5, lat_seconds_bucket) > 0")
    assert cumulative.window_s is None and cumulative.quantile == 0.5


def test_negative_and_exponent_bounds_and_escaped_label_values():
    assert parse_expr("temp > -1.5").bound == -1.5
    assert parse_expr("rate(m[1s]) < 1e-3").bound == 0.001
    assert parse_expr(r'm{path="/a\"b"} == 0').labels == (("path", "=", r'/a\"b'),)


@pytest.mark.parametrize("text", [
    "rate(m_total) < 1",                        # no window
    "m_total",                                  # no comparison
    "m_total < high",                           # no number
    "sum(m_total) > 1",                         # not a supported function
    'm{zone=zone-a} > 1',                       # unquoted value
    'm{a="1" b="2"} > 1',                       # no comma
    'm{a~"1"} > 1',                             # no regex matchers
    "histogram_quantile(1.5, m[5s]) < 1",       # q above 1
    "rate(m[0s]) < 1",                          # empty window
    "rate(m[5h]) < 1",                          # unknown unit
])
def test_bad_expressions(text):
    with pytest.raises(PromError):
        parse_expr(text)


def test_a_non_string_expression():
    with pytest.raises(PromError):
        parse_expr(None)  # type: ignore[arg-type]


def test_matchers():
    e = parse_expr('m{status="503", zone!="b"} > 0')
    assert e.matches({"status": "503", "zone": "a"}) and e.matches({"status": "503"})
    assert not e.matches({"status": "503", "zone": "b"}) and not e.matches({"status": "200", "zone": "a"})


def test_an_empty_matcher_matches_a_missing_label_as_prometheus_does():
    assert parse_expr('m{zone=""} > 0').matches({"status": "200"})
    assert not parse_expr('m{zone=""} > 0').matches({"zone": "a"})
    assert not parse_expr('m{zone!=""} > 0').matches({"status": "200"})
    assert parse_expr('m{zone!=""} > 0').matches({"zone": "a"})


def test_holds():
    assert holds(parse_expr("m < 1"), 0.5) is True and holds(parse_expr("m < 1"), 1.0) is False
    assert holds(parse_expr("m >= 1"), 1.0) is True and holds(parse_expr("m != 1"), 2.0) is True
    assert holds(parse_expr("m < 1"), float("nan")) is None
    assert holds(parse_expr("m < 1"), math.inf) is False


# ------------------------------------------------------------------ scrapes
COUNTERS = """\
# HELP req Requests.
# TYPE req counter
req_total{{status="200",zone="a"}} {ok_a}
req_total{{status="503",zone="a"}} {err_a}
req_total{{status="200",zone="b"}} {ok_b}
# HELP healthy Healthy replicas.
# TYPE healthy gauge
healthy{{zone="a"}} {healthy_a}
healthy{{zone="b"}} 2
"""


def counters(ok_a=0.0, err_a=0.0, ok_b=0.0, healthy_a=2) -> list:
    return parse_scrape(COUNTERS.format(ok_a=ok_a, err_a=err_a, ok_b=ok_b, healthy_a=healthy_a))


def test_parse_scrape():
    samples = counters(ok_a=10, err_a=1, ok_b=5, healthy_a=1)
    assert ("req_total", {"status": "503", "zone": "a"}, 1.0) in samples
    assert ("healthy", {"zone": "a"}, 1.0) in samples
    assert all(isinstance(v, float) for _, _, v in samples)


def test_parse_scrape_of_an_empty_exposition():
    assert parse_scrape("") == []


@pytest.mark.parametrize("junk", ["hello world", 'req_total{status="200" 3', "# TYPE x counter\nx_total abc",
                                  "<html><body>404</body></html>", "{}"])
def test_parse_scrape_raises_prom_error_on_junk(junk):
    with pytest.raises(PromError, match="not a Prometheus exposition"):
        parse_scrape(junk)


def test_instant_value_sums_the_matching_series_of_the_newest_scrape():
    s = Series(keep_s=10)
    s.add(0.0, counters(healthy_a=2))
    s.add(1.0, counters(healthy_a=1))
    assert s.evaluate(parse_expr("healthy > 0")) == 3.0
    assert s.evaluate(parse_expr('healthy{zone="a"} > 0')) == 1.0
    assert s.evaluate(parse_expr('healthy{zone!="a"} > 0')) == 2.0
    assert math.isnan(s.evaluate(parse_expr('healthy{zone="c"} > 0')))
    assert math.isnan(s.evaluate(parse_expr("absent_metric > 0")))


def test_nothing_scraped_is_nan():
    s = Series(keep_s=10)
    for text in ("m > 0", "rate(m[5s]) > 0", "increase(m[5s]) > 0", "histogram_quantile(0.5, h[5s]) > 0"):
        assert math.isnan(s.evaluate(parse_expr(text))), text


def test_one_scrape_is_not_enough_for_a_rate():
    s = Series(keep_s=10)
    s.add(100.0, counters(ok_a=10))
    assert math.isnan(s.evaluate(parse_expr("rate(req_total[5s]) > 0")))
    assert math.isnan(s.evaluate(parse_expr("increase(req[5s]) > 0")))


def test_rate_over_the_window():
    s = Series(keep_s=10)
    # ok_a grows 10/s, err_a 2/s, ok_b 5/s, scraped every second
    for t in range(7):
        s.add(1000.0 + t, counters(ok_a=10 * t, err_a=2 * t, ok_b=5 * t))
    assert s.evaluate(parse_expr("rate(req_total[4s]) > 0")) == pytest.approx(17.0)
    assert s.evaluate(parse_expr('rate(req_total{status="503"}[2s]) > 0')) == pytest.approx(2.0)
    assert s.evaluate(parse_expr('rate(req_total{zone!="a"}[3s]) > 0')) == pytest.approx(5.0)
    # the family's name finds its _total samples too
    assert s.evaluate(parse_expr('increase(req{zone="a"}[4s]) > 0')) == pytest.approx(4 * 12.0)


def test_rate_uses_the_scrape_at_or_before_the_window_start():
    s = Series(keep_s=10)
    s.add(0.0, counters(ok_a=0))
    s.add(2.0, counters(ok_a=20))
    s.add(5.0, counters(ok_a=80))
    # window 4s from 5.0 starts at 1.0: the scrape at 0.0 is the newest at or before it
    assert s.evaluate(parse_expr('increase(req_total{status="200",zone="a"}[4s]) > 0')) == pytest.approx(80.0)
    assert s.evaluate(parse_expr('rate(req_total{status="200",zone="a"}[4s]) > 0')) == pytest.approx(16.0)
    # window 3s starts at 2.0: exactly that scrape
    assert s.evaluate(parse_expr('rate(req_total{status="200",zone="a"}[3s]) > 0')) == pytest.approx(20.0)


def test_a_short_history_uses_the_oldest_scrape():
    s = Series(keep_s=60)
    s.add(10.0, counters(ok_a=0))
    s.add(12.0, counters(ok_a=10))
    assert s.evaluate(parse_expr('rate(req_total{status="200",zone="a"}[30s]) > 0')) == pytest.approx(5.0)


def test_a_counter_reset_counts_from_zero():
    s = Series(keep_s=10)
    s.add(0.0, counters(ok_a=100))
    s.add(1.0, counters(ok_a=7))          # the process restarted
    e = parse_expr('increase(req_total{status="200",zone="a"}[1s]) > 0')
    assert s.evaluate(e) == pytest.approx(7.0)


def test_a_counter_reset_inside_the_window_is_not_lost():
    """100 -> 120, restart, 5 -> 130: Prometheus counts 20 + 5 + 125 = 150, not 130 - 100."""
    s = Series(keep_s=10)
    for t, v in enumerate([100, 120, 5, 130]):
        s.add(float(t), counters(ok_a=v))
    e = 'req_total{status="200",zone="a"}[3s]'
    assert s.evaluate(parse_expr(f"increase({e}) > 0")) == pytest.approx(150.0)
    assert s.evaluate(parse_expr(f"rate({e}) > 0")) == pytest.approx(50.0)


def test_a_series_that_appears_inside_the_window_counts_from_zero():
    s = Series(keep_s=10)
    s.add(0.0, parse_scrape("# TYPE req counter\nreq_total{status=\"200\"} 50\n"))
    s.add(1.0, parse_scrape("# TYPE req counter\nreq_total{status=\"200\"} 60\nreq_total{status=\"503\"} 3\n"))
    assert s.evaluate(parse_expr('increase(req_total{status="503"}[1s]) > 0')) == pytest.approx(3.0)
    assert s.evaluate(parse_expr("increase(req_total[1s]) > 0")) == pytest.approx(13.0)


def test_old_scrapes_are_dropped_but_one_before_the_window_is_kept():
    s = Series(keep_s=5)
    for t in range(30):
        s.add(float(t), counters(ok_a=t))
    assert [at for at, _ in s.scrapes] == [float(t) for t in range(23, 30)]
    e = parse_expr('increase(req_total{status="200",zone="a"}[5s]) > 0')
    assert s.evaluate(e) == pytest.approx(5.0)


# ------------------------------------------------------------------ histograms
HISTOGRAM = """\
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{{zone="a",le="0.1"}} {a[0]}
lat_seconds_bucket{{zone="a",le="0.5"}} {a[1]}
lat_seconds_bucket{{zone="a",le="1.0"}} {a[2]}
lat_seconds_bucket{{zone="a",le="+Inf"}} {a[3]}
lat_seconds_count{{zone="a"}} {a[3]}
lat_seconds_sum{{zone="a"}} 1.0
lat_seconds_bucket{{zone="b",le="0.1"}} {b[0]}
lat_seconds_bucket{{zone="b",le="0.5"}} {b[1]}
lat_seconds_bucket{{zone="b",le="1.0"}} {b[2]}
lat_seconds_bucket{{zone="b",le="+Inf"}} {b[3]}
lat_seconds_count{{zone="b"}} {b[3]}
lat_seconds_sum{{zone="b"}} 1.0
"""


def hist(a=(0, 0, 0, 0), b=(0, 0, 0, 0)) -> list:
    return parse_scrape(HISTOGRAM.format(a=a, b=b))


@pytest.fixture
def latency() -> Series:
    s = Series(keep_s=30)
    s.add(0.0, hist(a=(50, 50, 50, 50)))                 # before the window: 50 fast requests
    s.add(5.0, hist(a=(60, 110, 140, 150)))              # in the window: 10 / 50 / 30 / 10 more
    return s


@pytest.mark.parametrize(("q", "expected"), [
    # the window's increase per bucket, cumulative: 0.1 -> 10, 0.5 -> 60, 1.0 -> 90, +Inf -> 100
    (0.05, 0.1 * 5 / 10),                     # rank 5 in the first bucket, from 0
    (0.5, 0.1 + 0.4 * (50 - 10) / 50),        # rank 50: 0.42
    (0.9, 1.0),                               # rank 90: the top of the 1.0 bucket
    (0.8, 0.5 + 0.5 * (80 - 60) / 30),
    (0.99, 1.0),                              # in +Inf: the highest finite bound
])
def test_histogram_quantile_interpolates_inside_the_bucket(latency, q, expected):
    assert latency.evaluate(parse_expr(f'histogram_quantile({q}, lat_seconds{{zone="a"}}[10s]) < 1')) \
        == pytest.approx(expected)


def test_histogram_quantile_without_a_window_is_cumulative(latency):
    # cumulative: 0.1 -> 60, 0.5 -> 110, 1.0 -> 140, +Inf -> 150; rank 75 in the 0.5 bucket
    got = latency.evaluate(parse_expr("histogram_quantile(0.5, lat_seconds_bucket) < 1"))
    assert got == pytest.approx(0.1 + 0.4 * (75 - 60) / 50)


def test_histogram_quantile_sums_the_matching_series():
    s = Series(keep_s=30)
    s.add(0.0, hist())
    s.add(1.0, hist(a=(10, 10, 10, 10), b=(0, 0, 10, 10)))
    # together: 0.1 -> 10, 0.5 -> 10, 1.0 -> 20, +Inf -> 20; rank 15 in the 1.0 bucket
    assert s.evaluate(parse_expr("histogram_quantile(0.75, lat_seconds[5s]) < 1")) == pytest.approx(0.75)
    assert s.evaluate(parse_expr('histogram_quantile(0.75, lat_seconds{zone="b"}[5s]) < 1')) \
        == pytest.approx(0.5 + 0.5 * 7.5 / 10)


def test_histogram_quantile_is_nan_without_traffic_or_history():
    s = Series(keep_s=30)
    s.add(0.0, hist(a=(5, 5, 5, 5)))
    assert math.isnan(s.evaluate(parse_expr("histogram_quantile(0.5, lat_seconds[5s]) < 1")))   # one scrape
    s.add(1.0, hist(a=(5, 5, 5, 5)))
    assert math.isnan(s.evaluate(parse_expr("histogram_quantile(0.5, lat_seconds[5s]) < 1")))   # no new requests
    assert math.isnan(s.evaluate(parse_expr("histogram_quantile(0.5, other_seconds[5s]) < 1")))  # no such metric
