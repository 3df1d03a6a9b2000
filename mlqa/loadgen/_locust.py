"""Running locust in subprocesses and reading what they measured: HDR histograms merged
across processes, the percentile ladder and the latency histogram charts. A run polls its
`Deadline`: cancelled, it stops every locust process before `Cancelled` propagates."""
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
from typing import TYPE_CHECKING

from ..deadline import Deadline
from ..procs import free_port, stop_groups

if TYPE_CHECKING:  # pragma: no cover
    from ..endpoint import Endpoint

LOCUSTFILE = Path(__file__).with_name("_locustfile.py")
PERCENTILES = (50, 75, 90, 95, 99, 99.9, 99.99)


def prepare(spec: dict, out_dir: str) -> tuple[dict, dict[str, str], list[str]]:
    """Write `spec` (with `out_dir`) where the locustfile reads it: the spec, the
    environment naming it, and the locust command line every process shares."""
    spec = {**spec, "out_dir": out_dir}
    spec_path = Path(out_dir) / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "MLQA_LOAD_SPEC": str(spec_path)}
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--loglevel", "WARNING", "--stop-timeout", "2", "--host", spec["host"]]
    return spec, env, base


def run_args(users: int, spawn_rate: int, seconds: float) -> list[str]:
    """A headless run's users, spawn rate and run time (whole seconds)."""
    return ["-u", str(users), "-r", str(spawn_rate), "-t", f"{math.ceil(seconds)}s"]


def spawn(cmd: list[str], env: dict[str, str], *, stderr, stdin=None) -> subprocess.Popen:
    """One locust process in its own session (so `stop_groups` reaches all it starts)."""
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdin=stdin,
                            stdout=subprocess.DEVNULL, stderr=stderr)


def run_locust(spec: dict, *, users: int, seconds: float, workers: int, progress: str | None,
               deadline: Deadline | None = None) -> dict:
    """Run locust (locally, or a master with `workers` local workers) and merge the HDR
    histograms every process wrote. Every process is killed, whatever happens — also when
    `deadline` is cancelled mid-run (then `Cancelled` propagates)."""
    deadline = deadline or Deadline.never()
    deadline.check()
    from hdrh.histogram import HdrHistogram
    with tempfile.TemporaryDirectory(prefix="mlqa-load-") as tmp:
        spec, env, base = prepare(spec, tmp)
        procs: list[subprocess.Popen] = []
        run = run_args(users, users, seconds)
        try:
            if workers:
                port = free_port()
                procs.append(spawn(base + run + ["--master", "--expect-workers", str(workers),
                                                 "--master-bind-host", "127.0.0.1", "--master-bind-port",
                                                 str(port)], env, stderr=subprocess.PIPE))
                for _ in range(workers):
                    procs.append(spawn(base + ["--worker", "--master-host", "127.0.0.1", "--master-port",
                                               str(port)], env, stderr=subprocess.DEVNULL))
            else:
                procs.append(spawn(base + run, env, stderr=subprocess.PIPE))
            limit = time.monotonic() + seconds + 60
            started = time.monotonic()
            while procs[0].poll() is None:
                if time.monotonic() > limit:
                    raise TimeoutError(f"locust did not finish within {seconds + 60:.0f}s")
                deadline.sleep(0.5)
                if progress:
                    _progress_line(progress, tmp, time.monotonic() - started, seconds)
            for p in procs[1:]:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            stderr = procs[0].stderr.read().decode(errors="replace") if procs[0].stderr else ""
        finally:  # one shared grace period, well inside the session's
            stop_groups(procs, grace_s=5)
            for p in procs:
                if p.stderr:
                    p.stderr.close()
            if progress:
                print(file=sys.stderr)
        merged, lag = HdrHistogram(1, 120_000_000, 3), HdrHistogram(1, 120_000_000, 3)
        totals = {"requests": 0, "sent": 0, "errors": 0, "first": None, "last": None, "statuses": {}, "processes": 0}
        for f in glob.glob(os.path.join(tmp, "hist-*.json")):
            data = json.loads(Path(f).read_text())
            totals["processes"] += 1
            if data["hist"]:
                merged.add(HdrHistogram.decode(data["hist"]))
                lag.add(HdrHistogram.decode(data["lag"]))
            totals["requests"] += data["requests"]
            totals["sent"] += data.get("sent", data["requests"])
            totals["errors"] += data["errors"]
            for k, v in data["statuses"].items():
                totals["statuses"][k] = totals["statuses"].get(k, 0) + v
            for key, pick in (("first", min), ("last", max)):
                if data[key] is not None:
                    totals[key] = data[key] if totals[key] is None else pick(totals[key], data[key])
        if totals["processes"] == 0:
            raise RuntimeError(f"locust wrote no measurements: {stderr.strip()[-400:]}")
        return {"hist": merged, "lag": lag, **totals}


def _progress_line(label: str, folder: str, elapsed: float, total: float) -> None:
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
    print(f"\r{label} {elapsed:5.1f}/{total:.0f}s  requests {reqs}  errors {errs}  "
          f"p95 {'-' if p95 is None else f'{p95:.1f}ms'}   ", end="", file=sys.stderr, flush=True)


def stats_of(run: dict, window_s: float) -> dict:
    h = run["hist"]
    n = run["requests"]
    stats = {f"p{p:g}_ms": h.get_value_at_percentile(p) / 1000 for p in PERCENTILES} if n else {}
    stats.update({"mean_ms": h.get_mean_value() / 1000 if n else float("nan"),
                  "max_ms": h.get_max_value() / 1000 if n else float("nan"),
                  "min_ms": h.get_min_value() / 1000 if n else float("nan"),
                  "error_rate": run["errors"] / n if n else float("nan"),
                  "rps": n / window_s if window_s > 0 else float("nan"), "requests": float(n),
                  # how late requests left their schedule: the generator's own lag, in the latency
                  "send_lag_p50_ms": run["lag"].get_value_at_percentile(50) / 1000 if n else float("nan"),
                  "send_lag_p99_ms": run["lag"].get_value_at_percentile(99) / 1000 if n else float("nan")})
    stats["percentile"] = lambda p: h.get_value_at_percentile(p) / 1000
    return stats


def measure(ep: Endpoint, payload: dict, *, rate: float | None, users: int, seconds: float, warmup: float,
            workers: int = 0, label: str = "latency.load", deadline: Deadline | None = None) -> dict:
    """One locust run against `ep`: `rate` per second on a fixed schedule (open model) or
    `users` sending back to back (closed model), `warmup` seconds excluded. Returns the
    merged histogram's statistics, the status counts and how many requests were scheduled."""
    procs = max(workers, 1)
    users = max(users, procs)
    spec = {"host": ep.url, "route": ep.infer_route, "payload": payload, "headers": ep.auth_headers(),
            "warmup_s": warmup, "window_s": seconds, "users_per_process": users // procs,
            "rate_per_process": (rate / procs) if rate else None}
    # one more second than measured, so requests sent at the window's end are answered
    run = run_locust(spec, users=users, seconds=seconds + warmup + 1, workers=workers, progress=label,
                     deadline=deadline)
    stats = stats_of(run, seconds)
    if rate:
        _count_undelivered(stats, run, scheduled=int(round(rate * seconds)))
    return {"stats": stats, "statuses": run["statuses"], "processes": run["processes"], "hist": run["hist"],
            "users": users, "rate": rate, "seconds": seconds,
            "scheduled": rate * seconds if rate else None}


def _count_undelivered(stats: dict, run: dict, *, scheduled: int) -> None:
    """Open model: requests due in the window that were never answered — sent but still
    unanswered when the run stopped, or never sent because every user was still waiting on
    an earlier answer — are errors, not requests that did not happen (leaving them out
    would hide an overloaded server's worst moments: coordinated omission)."""
    n = run["requests"]
    unanswered = max(0, run["sent"] - n)
    unsent = max(0, scheduled - max(run["sent"], n))
    stats["unanswered"], stats["unsent"] = float(unanswered), float(unsent)
    due = n + unanswered + unsent
    stats["error_rate"] = (run["errors"] + unanswered + unsent) / due if due else float("nan")


def histogram_chart(title: str, hist, bins: int = 24) -> dict | None:
    """The latency distribution as log-spaced bars (milliseconds), from the HDR histogram."""
    from ..judge import bar_chart
    if hist.get_total_count() == 0:
        return None
    lo, hi = max(hist.get_min_value(), 1), max(hist.get_max_value(), 2)
    if hi <= lo * 1.05:
        hi = lo * 1.05 + 1
    step = (math.log(hi) - math.log(lo)) / bins
    edges = [lo * math.exp(step * i) for i in range(bins + 1)]
    counts = [0] * bins
    for item in hist.get_recorded_iterator():
        v = item.value_iterated_to
        i = min(int((math.log(max(v, lo)) - math.log(lo)) / step), bins - 1) if step > 0 else 0
        counts[i] += item.count_added_in_this_iter_step
    labels = [f"{_ms(edges[i])}-{_ms(edges[i + 1])}" for i in range(bins)]
    return bar_chart(title, labels, counts, y_label="requests (x: ms)")


def _ms(us: float) -> str:
    ms = us / 1000
    return f"{ms:.3g}"
