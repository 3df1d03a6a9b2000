"""Load tests with locust, run in a subprocess, measured into HDR histograms."""
from __future__ import annotations

import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..._procs import free_port, stop_group
from ..._units import parse_duration, parse_rate
from ...registry import check
from ...results import CheckResult
from ...subjects import CheckContext
from .._judge import fmt, line_chart
from ..security._http import Endpoint
from ._slo import observed, parse_slo

LOCUSTFILE = Path(__file__).with_name("_locustfile.py")
PERCENTILES = (50, 75, 90, 95, 99, 99.9, 99.99)


def _validate(params: dict) -> None:
    modes = [k for k in ("users", "rate", "steps") if params.get(k)]
    if len(modes) != 1:
        raise ValueError("give exactly one load shape: `users: N` (closed), `rate: 200/s` (open) "
                         "or `steps: [\"50/s for 10s\", ...]` (a ramp of open-model steps)")
    for s in params.get("slo") or []:
        parse_slo(s)
    parse_duration(params.get("duration", "20s"))


def run_locust(spec: dict, *, users: int, seconds: float, workers: int, progress: bool) -> dict:
    """Run locust (locally, or a master with `workers` local workers) and merge the HDR
    histograms every process wrote. Every process is killed, whatever happens."""
    from hdrh.histogram import HdrHistogram
    with tempfile.TemporaryDirectory(prefix="mlqa-load-") as tmp:
        spec = {**spec, "out_dir": tmp}
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "MLQA_LOAD_SPEC": str(spec_path)}
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
                "--loglevel", "WARNING", "--stop-timeout", "2", "--host", spec["host"]]
        procs: list[subprocess.Popen] = []
        run = ["-u", str(users), "-r", str(users), "-t", f"{math.ceil(seconds)}s"]
        try:
            if workers:
                port = free_port()
                procs.append(subprocess.Popen(base + run + ["--master", "--expect-workers", str(workers),
                                                            "--master-bind-host", "127.0.0.1",
                                                            "--master-bind-port", str(port)],
                                              env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE))
                for _ in range(workers):
                    procs.append(subprocess.Popen(base + ["--worker", "--master-host", "127.0.0.1",
                                                          "--master-port", str(port)],
                                                  env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL))
            else:
                procs.append(subprocess.Popen(base + run, env=env, start_new_session=True,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            deadline = time.monotonic() + seconds + 60
            started = time.monotonic()
            while procs[0].poll() is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"locust did not finish within {seconds + 60:.0f}s")
                time.sleep(0.5)
                if progress:
                    _progress_line(tmp, time.monotonic() - started, seconds)
            for p in procs[1:]:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            stderr = procs[0].stderr.read().decode(errors="replace") if procs[0].stderr else ""
        finally:
            for p in procs:
                stop_group(p, grace_s=10)
                if p.stderr:
                    p.stderr.close()
            if progress:
                print(file=sys.stderr)
        merged = HdrHistogram(1, 120_000_000, 3)
        totals = {"requests": 0, "errors": 0, "first": None, "last": None, "statuses": {}, "processes": 0}
        for f in glob.glob(os.path.join(tmp, "hist-*.json")):
            data = json.loads(Path(f).read_text())
            totals["processes"] += 1
            if data["hist"]:
                merged.add(HdrHistogram.decode(data["hist"]))
            totals["requests"] += data["requests"]
            totals["errors"] += data["errors"]
            for k, v in data["statuses"].items():
                totals["statuses"][k] = totals["statuses"].get(k, 0) + v
            for key, pick in (("first", min), ("last", max)):
                if data[key] is not None:
                    totals[key] = data[key] if totals[key] is None else pick(totals[key], data[key])
        if totals["processes"] == 0:
            raise RuntimeError(f"locust wrote no measurements: {stderr.strip()[-400:]}")
        return {"hist": merged, **totals}


def _progress_line(folder: str, elapsed: float, total: float) -> None:
    if not sys.stderr.isatty():
        return
    reqs = errs = 0
    p95 = None
    for f in glob.glob(os.path.join(folder, "progress-*.json")):
        try:
            d = json.loads(Path(f).read_text())
        except (OSError, ValueError):
            continue
        reqs += d["requests"]
        errs += d["errors"]
        p95 = d["p95_ms"] if d["p95_ms"] is not None else p95
    print(f"\rlatency.load {elapsed:5.1f}/{total:.0f}s  requests {reqs}  errors {errs}  "
          f"p95 {'-' if p95 is None else f'{p95:.1f}ms'}   ", end="", file=sys.stderr, flush=True)


def _metric_key(metric: str) -> str:
    if metric.startswith("p"):
        return f"p{float(metric[1:]):g}_ms"
    return {"avg": "mean_ms", "max": "max_ms", "min": "min_ms"}.get(metric, metric)


def stats_of(run: dict, window_s: float) -> dict:
    h = run["hist"]
    n = run["requests"]
    stats = {f"p{p:g}_ms": h.get_value_at_percentile(p) / 1000 for p in PERCENTILES} if n else {}
    stats.update({"mean_ms": h.get_mean_value() / 1000 if n else float("nan"),
                  "max_ms": h.get_max_value() / 1000 if n else float("nan"),
                  "min_ms": h.get_min_value() / 1000 if n else float("nan"),
                  "error_rate": run["errors"] / n if n else float("nan"),
                  "rps": n / window_s if window_s > 0 else float("nan"), "requests": float(n)})
    stats["percentile"] = lambda p: h.get_value_at_percentile(p) / 1000
    return stats


@check("latency.load", requires=("endpoint", "test"), validate=_validate)
def load(ctx: CheckContext, *, users: int | None = None, rate: str | None = None, steps: list[str] = [],  # noqa: B006
         duration: str = "20s", warmup: str = "2s", slo: list[str] = ["p95 < 200ms", "error_rate < 1%"],  # noqa: B006
         concurrency: int | None = None, workers: int = 0, rows_per_request: int = 1) -> CheckResult:
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
    """
    try:
        ep = Endpoint.from_context(ctx)
    except LookupError as exc:
        return CheckResult(status="error", message=str(exc))
    payload = ep.payload(ctx.test.X.sample(rows_per_request, random_state=ctx.seed))
    slos = [parse_slo(s) for s in slo]
    warm = parse_duration(warmup)
    plan = ([(parse_rate(s.split(" for ")[0]), parse_duration(s.split(" for ")[1])) for s in steps]
            if steps else [(parse_rate(rate) if rate else None, parse_duration(duration))])
    procs = max(workers, 1)
    stages = []
    for i, (r, secs) in enumerate(plan):
        n_users = users or concurrency or max(8, math.ceil((r or 0) / 10))
        n_users = max(n_users, procs)
        spec = {"host": ep.url, "route": ep.infer_route, "payload": payload, "headers": ep.auth_headers(),
                "warmup_s": warm if i == 0 else 0.0, "users_per_process": n_users // procs,
                "rate_per_process": (r / procs) if r else None}
        try:
            result = run_locust(spec, users=n_users, seconds=secs + spec["warmup_s"], workers=workers,
                                progress=True)
        except (RuntimeError, TimeoutError) as exc:
            return CheckResult(status="error", message=f"the load test could not run: {exc}")
        stats = stats_of(result, secs)
        verdicts = []
        for s in slos:
            value = observed(s.metric, stats)
            verdicts.append({"slo": s.text, "observed": value, "holds": bool(value == value and s.holds(value))})
        stages.append({"rate": r, "users": n_users, "seconds": secs, "stats": stats, "slos": verdicts,
                       "statuses": result["statuses"], "processes": result["processes"]})
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
    evidence = {"shape": shape, "endpoint": ep.url, "workers": workers, "warmup_s": warm,
                "slos": [{**v, "observed": float(v["observed"])} for v in worst["slos"]],
                "stages": [{"rate": s["rate"], "users": s["users"], "seconds": s["seconds"],
                            "requests": s["stats"]["requests"], "rps": s["stats"]["rps"],
                            "p50_ms": s["stats"].get("p50_ms"), "p95_ms": s["stats"].get("p95_ms"),
                            "p99_ms": s["stats"].get("p99_ms"), "error_rate": s["stats"]["error_rate"],
                            "slos_hold": all(v["holds"] for v in s["slos"])} for s in stages],
                "status_counts": worst["statuses"], "charts": [ladder]}
    message = (f"{shape}: " + "; ".join(f"{v['slo']} violated (observed {fmt(float(v['observed']))})"
                                       for v in failed)) if failed else \
        (f"{shape}: every SLO holds — p50 {fmt(st.get('p50_ms', float('nan')))} ms, p99 "
         f"{fmt(st.get('p99_ms', float('nan')))} ms, {fmt(st['rps'])} req/s, error rate {fmt(st['error_rate'])}")
    if math.isnan(st["rps"]) or st["requests"] == 0:
        return CheckResult(status="error", message=f"{shape}: no request completed", metrics=metrics,
                           evidence=evidence)
    return CheckResult(status="failed" if failed else "passed", message=message, metrics=metrics,
                       thresholds=thresholds, evidence=evidence)
