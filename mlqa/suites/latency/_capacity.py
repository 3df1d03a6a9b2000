"""latency.capacity: the highest arrival rate at which the SLO still holds, found by
open-model probes (exponential growth, then a geometric bisection of the bracket)."""
from __future__ import annotations

from typing import Annotated

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

from ...units import parse_duration, parse_rate
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import fmt, line_chart
from ...endpoint import Endpoint
from ...loadgen import DEFAULT_SLO, judge_slos, measure, parse_slo
from ...params import Count, PositiveInt, Range

#: a probe holds only when at least this share of its scheduled requests completed: below
#: it, the server (or the load generator) could not keep the pace and the missing
#: requests' latency is unknown
MIN_DELIVERED = 0.9


@dataclass(frozen=True)
class CapacitySettings:
    """How the capacity search runs; shared by latency.capacity and cost.per_1k_predictions."""

    slo: tuple[str, ...] = tuple(DEFAULT_SLO)
    start: str = "10/s"
    max_rate: str = "2000/s"
    probe: str = "5s"
    warmup: str = "1s"
    precision: float = 0.1
    max_probes: int = 12
    rows_per_request: int = 1
    workers: int = 0
    token_env: str | None = None

    @classmethod
    def from_params(cls, params: dict) -> "CapacitySettings":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in params.items() if k in known and v is not None}
        if "slo" in kw:
            kw["slo"] = tuple(kw["slo"])
        return cls(**kw)

    def validate(self) -> None:
        for s in self.slo:
            parse_slo(s)
        start, top = parse_rate(self.start), parse_rate(self.max_rate)
        if not 0 < start < top:
            raise ValueError(f"need 0 < start ({self.start}) < max_rate ({self.max_rate})")
        if parse_duration(self.probe) <= 0 or parse_duration(self.warmup) < 0:
            raise ValueError("`probe` must be a positive duration and `warmup` not negative")
        if not 0 < self.precision < 1:
            raise ValueError("`precision` is a fraction: 0.1 stops when the bracket is within 10%")
        if self.max_probes < 2:
            raise ValueError("`max_probes` must be at least 2")


def search(holds: Callable[[float], bool], *, start: float, max_rate: float, precision: float,
           max_probes: int) -> tuple[float, bool]:
    """The highest rate in [start, max_rate] where `holds` is true, assuming it is true below
    some knee and false above: double from `start` until it fails, then bisect the bracket
    geometrically until its ends are within `precision` of each other. Returns (capacity,
    capped); capacity is 0.0 when it fails at `start`, capped is true when it holds at
    `max_rate`."""
    probes = 1
    if not holds(start):
        return 0.0, False
    lo, hi = start, None
    while probes < max_probes:
        rate = min(lo * 2, max_rate)
        probes += 1
        if holds(rate):
            lo = rate
            if rate >= max_rate:
                return lo, True
        else:
            hi = rate
            break
    while hi is not None and hi / lo > 1 + precision and probes < max_probes:
        mid = math.sqrt(lo * hi)
        probes += 1
        if holds(mid):
            lo = mid
        else:
            hi = mid
    return lo, hi is None


def measure_capacity(ctx: CheckContext, settings: CapacitySettings) -> dict:
    """Run the search against the context's endpoint (once per run for these settings)."""
    ep = Endpoint.from_config(ctx.endpoint, settings.token_env)
    replicas = int((ctx.endpoint or {}).get("replicas", 1))

    def compute() -> dict:
        payload = ep.payload(ctx.test.X.sample(settings.rows_per_request, random_state=ctx.seed,
                                               replace=len(ctx.test.X) < settings.rows_per_request))
        slos = [parse_slo(s) for s in settings.slo]
        seconds, warm = parse_duration(settings.probe), parse_duration(settings.warmup)
        probes: list[dict] = []

        def holds(rate: float) -> bool:
            m = measure(ep, payload, rate=rate, users=max(8, math.ceil(rate / 10)), seconds=seconds,
                        warmup=warm, workers=settings.workers, deadline=ctx.deadline,
                        label=f"latency.capacity probe {len(probes) + 1} at {rate:.4g}/s")
            st = m["stats"]
            verdicts = judge_slos(slos, st)
            delivered = st["requests"] / m["scheduled"] if m["scheduled"] else float("nan")
            reasons = [f"{v['slo']} (observed {fmt(float(v['observed']))})" for v in verdicts if not v["holds"]]
            if not delivered >= MIN_DELIVERED:
                reasons.append(f"only {fmt(100 * delivered)}% of the scheduled requests completed")
            probes.append({"rate": rate, "holds": not reasons, "requests": st["requests"], "rps": st["rps"],
                           "delivered": delivered, "p50_ms": st.get("p50_ms"), "p95_ms": st.get("p95_ms"),
                           "p99_ms": st.get("p99_ms"), "error_rate": st["error_rate"],
                           "why_not": "; ".join(reasons), "slos": verdicts})
            return not reasons

        capacity, capped = search(holds, start=parse_rate(settings.start), max_rate=parse_rate(settings.max_rate),
                                  precision=settings.precision, max_probes=settings.max_probes)
        return {"capacity_rps": capacity, "capped": capped, "probes": probes, "replicas": replicas,
                "endpoint": ep.url, "settings": asdict(settings)}

    return ctx.memo(("capacity", ep.url, ep.infer_route, settings), compute)


def measured(ctx: CheckContext, settings: CapacitySettings) -> dict | CheckResult:
    """The capacity measurement, or the `error` result saying why it could not be taken."""
    try:
        return measure_capacity(ctx, settings)
    except LookupError as exc:
        return CheckResult(status="error", message=str(exc))
    except (RuntimeError, TimeoutError) as exc:
        return CheckResult(status="error", message=f"a capacity probe could not run: {exc}")


def _validate(params: dict) -> None:
    CapacitySettings.from_params(params).validate()
    if params.get("min_rate") is not None:
        parse_rate(params["min_rate"])


def capacity_chart(probes: list[dict], slo: Iterable[str] = (), capacity: float | None = None,
                   capped: bool = False) -> dict:
    """p50, p95 and p99 latency against the offered rate, one line each; each latency SLO as
    a horizontal line (in its percentile's colour) and the capacity found as a vertical one."""
    ordered = sorted(probes, key=lambda p: p["rate"])
    xs = [round(p["rate"], 2) for p in ordered]
    chart = line_chart("Latency against offered rate (capacity probes)",
                       [{"name": name, "x": xs, "y": [p[key] for p in ordered]}
                        for name, key in (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))],
                       x_label="requests/s offered", y_label="ms")
    lines: list[dict] = []
    for text in slo:
        try:
            s = parse_slo(text)
        except ValueError:
            continue
        if s.metric not in ("error_rate", "rps"):  # a latency, in ms: the chart's axis
            lines.append({"y": s.value, "label": f"SLO {s.text}", "series": s.metric})
    if capacity:
        lines.append({"x": float(capacity), "label": f"capacity {'>= ' if capped else ''}{fmt(float(capacity))}/s"})
    chart["lines"] = lines
    return chart


def probe_table(probes: list[dict]) -> list[dict]:
    return [{k: v for k, v in p.items() if k != "slos"} for p in probes]


@check("latency.capacity", requires=("endpoint", "test"), validate=_validate)
def capacity(ctx: CheckContext, *, slo: list[str] = DEFAULT_SLO, start: str = "10/s",  # noqa: B006
             max_rate: str = "2000/s", probe: str = "5s", warmup: str = "1s", precision: Annotated[float, Range(0.0, 1.0, lo_open=True, hi_open=True)] = 0.1,
             max_probes: PositiveInt = 12, min_rate: str | None = None, rows_per_request: PositiveInt = 1,
             workers: Count = 0, token_env: str | None = None) -> CheckResult:
    """The highest arrival rate (requests/s, open model, latency from each request's
    intended send time) at which every SLO still holds, and that rate per replica when
    `endpoint.replicas` says how many serve it. Probes double the rate from `start` until
    the SLO breaks, then bisect the bracket geometrically to `precision`; a probe also fails
    when fewer than 90% of its scheduled requests complete. Fails when the SLO does not
    hold even at `start`, or when the capacity is below `min_rate`.

    Parameters:
    slo: thresholds every probe must meet, k6 style (default ["p95 < 200ms", "error_rate < 1%"])
    start: first rate probed (default 10/s)
    max_rate: highest rate probed; a capacity at it is reported as "at least" (default 2000/s)
    probe: measured time of each probe (default 5s)
    warmup: time excluded at the start of each probe (default 1s)
    precision: stop when the bracket's ends are within this fraction (default 0.1)
    max_probes: most probes in one search (default 12)
    min_rate: the capacity the endpoint must reach, e.g. 200/s (default: none; the SLO must hold at `start`)
    rows_per_request: rows of test data in each request (default 1)
    workers: locust worker processes under a local master, for rates one process cannot generate (default 0)
    token_env: variable holding the load generator's own credential, when the endpoint rate-limits the usual one (default: endpoint.auth.token_env)
    """
    settings = CapacitySettings(slo=tuple(slo), start=start, max_rate=max_rate, probe=probe, warmup=warmup,
                                precision=precision, max_probes=max_probes, rows_per_request=rows_per_request,
                                workers=workers, token_env=token_env)
    found = measured(ctx, settings)
    if isinstance(found, CheckResult):
        return found
    cap, replicas, probes = found["capacity_rps"], found["replicas"], found["probes"]
    metrics = {"capacity_rps": float(cap), "capacity_rps_per_replica": float(cap) / replicas,
               "predictions_per_s": float(cap) * rows_per_request, "probes": float(len(probes))}
    at_cap = next((p for p in probes if p["holds"] and p["rate"] == cap), None)
    evidence = {"endpoint": found["endpoint"], "replicas": replicas, "capped": found["capped"],
                "slo": list(slo), "probes": probe_table(probes),
                "slos_at_capacity": ([{"slo": v["slo"], "observed": float(v["observed"]), "holds": v["holds"]}
                                      for v in at_cap["slos"]] if at_cap else []),
                "charts": [capacity_chart(probes, slo, cap, found["capped"])]}
    thresholds = {"capacity_rps": f">= {fmt(parse_rate(min_rate))}"} if min_rate else {}
    per = f" ({fmt(cap / replicas)}/s per replica over {replicas})" if replicas > 1 else ""
    if cap == 0:
        first = probes[0]["why_not"] if probes else "no probe ran"
        return CheckResult(status="failed", metrics=metrics, thresholds=thresholds, evidence=evidence,
                           message=f"the SLO does not hold even at {start}: {first}; lower `start` to search below it")
    bound = "at least " if found["capped"] else ""
    note = " (it held at every rate probed: raise max_rate or max_probes to search further)" if found["capped"] else ""
    if min_rate and cap < parse_rate(min_rate):
        return CheckResult(status="failed", metrics=metrics, thresholds=thresholds, evidence=evidence,
                           message=f"capacity {fmt(cap)}/s{per} is below min_rate {min_rate} at SLO "
                                   f"{', '.join(slo)}")
    return CheckResult(status="passed", metrics=metrics, thresholds=thresholds, evidence=evidence,
                       message=f"capacity {bound}{fmt(cap)}/s{per} at SLO {', '.join(slo)}, "
                               f"{len(probes)} probes{note}")
