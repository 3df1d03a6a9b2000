"""The load generator every part of mlqa shares (latency checks, the stack's resilience
measurements, chaos probes): locust in subprocesses — open model measured from intended
send times, closed model, master and local workers — into HDR histograms, and SLOs written
as k6 thresholds (`p95 < 50ms`, `error_rate < 0.1%`, `rps > 150`); and `LoadRun`, a run in
the background whose every completed request can be read while it runs."""
from ._live import LoadRun, Request
from ._locust import LOCUSTFILE, PERCENTILES, histogram_chart, measure
from ._slo import DEFAULT_SLO, Slo, judge_slos, parse_slo

__all__ = ["DEFAULT_SLO", "LOCUSTFILE", "PERCENTILES", "LoadRun", "Request", "Slo", "histogram_chart",
           "judge_slos", "measure", "parse_slo"]
