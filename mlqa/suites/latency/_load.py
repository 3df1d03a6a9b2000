"""latency.load: locust against the endpoint, judged by k6-style SLOs."""
from __future__ import annotations

import math

from ...units import parse_duration, parse_rate
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import fmt, line_chart
from ...endpoint import Endpoint
from ...loadgen import DEFAULT_SLO, PERCENTILES, histogram_chart, judge_slos, measure, parse_slo
from ...params import Count, PositiveInt


def _validate(params: dict) -> None:
    modes = [k for k in ("users", "rate", "steps") if params.get(k)]
    if len(modes) != 1:
        raise ValueError("give exactly one load shape: `users: N` (closed), `rate: 200/s` (open) "
                         "or `steps: [\"50/s for 10s\", ...]` (a ramp of open-model steps)")
    for s in params.get("slo") or []:
        parse_slo(s)
    parse_duration(params.get("duration", "20s"))


def _metric_key(metric: str) -> str:
    if metric.startswith("p"):
        return f"p{float(metric[1:]):g}_ms"
    return {"avg": "mean_ms", "max": "max_ms", "min": "min_ms"}.get(metric, metric)


@check("latency.load", requires=("endpoint", "test"), validate=_validate)
def load(ctx: CheckContext, *, users: PositiveInt | None = None, rate: str | None = None, steps: list[str] = [],  # noqa: B006
         duration: str = "20s", warmup: str = "2s", slo: list[str] = DEFAULT_SLO,  # noqa: B006
         concurrency: PositiveInt | None = None, workers: Count = 0, rows_per_request: PositiveInt = 1,
         token_env: str | None = None) -> CheckResult:
    """Load on the endpoint with locust (FastHttpUser, in a subprocess — locust patches its
    process with gevent), payloads built from the test data in the endpoint's protocol.

    Shapes: `users: N` (closed model: each user sends when its answer arrives); `rate: 200/s`
    (open model: requests are due on a fixed schedule and latency is measured from each
    request's *intended* send time, as wrk2 does, so a stalled server shows its true tail);
    `steps` (a ramp of open-model steps, each judged). The warm-up is excluded. Latencies go
    into an HDR histogram (3 significant digits, not locust's rounded statistics). SLOs are
    written as k6 thresholds (`p95 < 50ms`, `error_rate < 0.1%`, `rps > 150`); each is judged
    and reported. `workers: N` runs a locust master with N local workers (the same mode
    spreads load over machines).

    Parameters:
    users: closed model: concurrent users
    rate: open model: arrival rate, e.g. 200/s
    steps: ramp: open-model steps like "50/s for 10s"
    duration: measured time after the warm-up (default 20s)
    warmup: time excluded from the measurement (default 2s)
    slo: thresholds, k6 style (default ["p95 < 200ms", "error_rate < 1%"])
    concurrency: open model: connections (users) that carry the schedule (default max(8, rate/10))
    workers: locust worker processes under a local master (default 0: one process)
    rows_per_request: rows of test data in each request (default 1)
    token_env: variable holding the load generator's own credential, when the endpoint rate-limits the usual one (default: endpoint.auth.token_env)
    """
    try:
        ep = Endpoint.from_config(ctx.endpoint, token_env)
    except LookupError as exc:
        return CheckResult(status="error", message=str(exc))
    payload = ep.payload(ctx.test.X.sample(rows_per_request, random_state=ctx.seed))
    slos = [parse_slo(s) for s in slo]
    warm = parse_duration(warmup)
    plan = ([(parse_rate(s.split(" for ")[0]), parse_duration(s.split(" for ")[1])) for s in steps]
            if steps else [(parse_rate(rate) if rate else None, parse_duration(duration))])
    stages = []
    for i, (r, secs) in enumerate(plan):
        n_users = users or concurrency or max(8, math.ceil((r or 0) / 10))
        try:
            m = measure(ep, payload, rate=r, users=n_users, seconds=secs, warmup=warm if i == 0 else 0.0,
                        workers=workers, deadline=ctx.deadline)
        except (RuntimeError, TimeoutError) as exc:
            return CheckResult(status="error", message=f"the load test could not run: {exc}")
        stages.append({**m, "slos": judge_slos(slos, m["stats"])})
    worst = next((s for s in stages if not all(v["holds"] for v in s["slos"])), stages[-1])
    st = worst["stats"]
    metrics = {k: float(v) for k, v in st.items() if k != "percentile"}
    for s in slos:  # percentiles an SLO names that the ladder does not hold
        metrics.setdefault(_metric_key(s.metric), float(st["percentile"](float(s.metric[1:])))
                           if s.metric.startswith("p") else float("nan"))
    thresholds = {_metric_key(s.metric): f"{s.op} {fmt(s.value)}" for s in slos}
    failed = [v for v in worst["slos"] if not v["holds"]]
    shape = (f"{users} users" if users else f"{plan[0][0]:g}/s" if not steps else
             " -> ".join(f"{r:g}/s" for r, _ in plan))
    ladder = line_chart("Latency by percentile (HDR histogram)",
                        [{"name": f"{s['rate'] or s['users']}{'/s' if s['rate'] else ' users'}",
                          "x": list(PERCENTILES), "y": [s["stats"][f"p{p:g}_ms"] if f"p{p:g}_ms" in s["stats"]
                                                          else None for p in PERCENTILES]} for s in stages],
                        x_label="percentile", y_label="ms")
    # each latency SLO is a limit at its own percentile: a short mark there, not a line across
    ladder["lines"] = [{"y": o.value, "at": float(o.metric[1:]), "label": o.text}
                       for o in slos if o.metric.startswith("p")]
    evidence = {"shape": shape, "endpoint": ep.url, "workers": workers, "warmup_s": warm,
                "slos": [{**v, "observed": float(v["observed"])} for v in worst["slos"]],
                "stages": [{"rate": s["rate"], "users": s["users"], "seconds": s["seconds"],
                            "scheduled": s["scheduled"], "requests": s["stats"]["requests"], "rps": s["stats"]["rps"],
                            "unanswered": s["stats"].get("unanswered"), "unsent": s["stats"].get("unsent"),
                            "p50_ms": s["stats"].get("p50_ms"), "p95_ms": s["stats"].get("p95_ms"),
                            "p99_ms": s["stats"].get("p99_ms"), "error_rate": s["stats"]["error_rate"],
                            "slos_hold": all(v["holds"] for v in s["slos"])} for s in stages],
                "status_counts": worst["statuses"],
                "charts": [c for c in (histogram_chart("Latency histogram (from intended send time)", worst["hist"]),
                                       ladder) if c]}
    message = (f"{shape}: " + "; ".join(f"{v['slo']} violated (observed {fmt(float(v['observed']))})"
                                       for v in failed)) if failed else \
        (f"{shape}: every SLO holds — p50 {fmt(st.get('p50_ms', float('nan')))} ms, p99 "
         f"{fmt(st.get('p99_ms', float('nan')))} ms, {fmt(st['rps'])} req/s, error rate {fmt(st['error_rate'])}")
    lost = st.get("unanswered", 0.0) + st.get("unsent", 0.0)
    if lost:
        message += (f" — {lost:.0f} of {worst['scheduled']:.0f} requests due were not answered in the run "
                    f"({st.get('unanswered', 0):.0f} sent and unanswered, {st.get('unsent', 0):.0f} never sent "
                    f"because every user still waited on an earlier answer): counted as errors")
    if st["requests"] == 0 and lost:
        return CheckResult(status="failed", message=message, metrics=metrics, thresholds=thresholds,
                           evidence=evidence)
    if math.isnan(st["rps"]) or st["requests"] == 0:
        return CheckResult(status="error", message=f"{shape}: no request completed", metrics=metrics,
                           evidence=evidence)
    return CheckResult(status="failed" if failed else "passed", message=message, metrics=metrics,
                       thresholds=thresholds, evidence=evidence)
