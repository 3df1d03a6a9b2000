"""latency.load against plain locust and against the server's own histogram, on `mlqa serve`
with the Adult model (examples/credit), then the capacity at the default SLO.

    python bench/load_vs_locust.py [--users 4] [--seconds 15] [--rounds 3]

1. Request rate: plain locust (FastHttpUser, no wait, same users, same request) and
   `latency.load` (closed model, same users) alternate against one server; target: mlqa
   reaches at least 90% of plain locust's rate (medians over the rounds: the server's speed
   drifts between runs on a shared 2-core machine).
2. Agreement: p50/p99 of a `latency.load` run (HDR histogram, from intended send time)
   against the same run as the server saw it (its Prometheus histogram, scraped before and
   after, with 4%-wide buckets, quantiles interpolated as histogram_quantile does); target:
   within 10%. Judged where the server's view is complete: one closed-model user and an
   open-model run at half capacity. With 4 users the server is saturated and requests wait
   for its event loop before the app's timer starts, which its histogram cannot see; those
   figures are printed for information.
3. `latency.capacity` at the default SLO (p95 < 200ms, error_rate < 1%), and p50/p99 there.

Prints figures; asserts nothing.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "credit" / "mlqa.yaml"
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from servers import free_port, running  # noqa: E402


def fine_buckets() -> str:
    edges, b = [], 0.0002
    while b < 20:
        edges.append(b)
        b *= 1.04
    return ",".join(f"{e:.6g}" for e in edges)


def scrape(url: str) -> dict[float, float]:
    """Cumulative bucket counts of the infer route's latency histogram."""
    text = httpx.get(url + "/metrics", timeout=5).text
    out = {}
    for m in re.finditer(r'mlqa_request_seconds_bucket\{le="([^"]+)",route="infer"\} (\S+)', text):
        out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
    return out


def quantile(before: dict, after: dict, q: float) -> float:
    """histogram_quantile over the difference of two scrapes, in milliseconds."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    total = counts[-1]
    rank, prev_le, prev_c = q * total, 0.0, 0.0
    for le, c in zip(les, counts):
        if c >= rank:
            if math.isinf(le):
                return prev_le * 1000
            return (prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9)) * 1000
        prev_le, prev_c = le, c
    return float("nan")


def plain_locust(url: str, route: str, body: Path, token: str, users: int, seconds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "plain")
        subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "_plain_locustfile.py"),
                        "--headless", "--only-summary", "--loglevel", "ERROR", "-u", str(users), "-r", str(users),
                        "-t", f"{seconds}s", "--host", url, "--csv", prefix],
                       env={**os.environ, "BENCH_BODY": str(body), "BENCH_ROUTE": route, "BENCH_TOKEN": token},
                       check=True, capture_output=True, timeout=seconds + 60, start_new_session=True)
        with open(prefix + "_stats.csv") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
        return float(row["Requests/s"])


def agreement(label: str, result, before: dict, after: dict) -> list[float]:
    ratios = []
    for q, key in ((0.5, "p50_ms"), (0.99, "p99_ms")):
        server = quantile(before, after, q)
        ratio = result.metrics[key] / server
        ratios.append(ratio)
        print(f"  {label:<30} {key[:3]}: mlqa {result.metrics[key]:7.2f} ms   server {server:7.2f} ms   "
              f"ratio {ratio:.3f} ({result.metrics[key] - server:+.2f} ms)")
    return ratios


def main() -> None:
    args = sys.argv[1:]
    users = int(args[args.index("--users") + 1]) if "--users" in args else 4
    seconds = int(args[args.index("--seconds") + 1]) if "--seconds" in args else 15
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    from mlqa.config import load_config
    from mlqa.context import build_context
    from mlqa.suites.latency import capacity, load
    from mlqa.endpoint import Endpoint

    os.environ["BENCH_MLQA_TOKEN"] = secrets.token_hex(16)
    os.environ["BENCH_MLQA_LOADGEN"] = secrets.token_hex(16)
    port = free_port()
    cmd = [sys.executable, "-m", "mlqa.cli", "serve", "--config", str(CONFIG), "--port", str(port),
           "--token-env", "BENCH_MLQA_TOKEN", "--unlimited-token-env", "BENCH_MLQA_LOADGEN",
           "--latency-buckets", fine_buckets()]
    print(f"mlqa serve with the Adult model ({CONFIG.relative_to(ROOT)}), {os.cpu_count()} cores, "
          f"{users} users, {seconds}s runs, {rounds} rounds")
    with running(cmd, port=port, timeout=60) as url, tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(load_config(CONFIG))
        ctx.endpoint = {"url": url, "protocol": "oip-v2", "model": "model",
                        "auth": {"token_env": "BENCH_MLQA_LOADGEN"}}
        ep = Endpoint.from_config(ctx.endpoint)
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps(ep.payload(ctx.test.X.sample(1, random_state=ctx.seed))))
        plain_rps, mlqa_rps, ratios = [], [], []
        for i in range(rounds):
            plain_rps.append(plain_locust(url, ep.infer_route, body, ep.token, users, seconds))
            before = scrape(url)
            r = load(ctx, users=users, duration=f"{seconds - 1}s", warmup="1s", slo=["error_rate < 1%"])
            after = scrape(url)
            mlqa_rps.append(r.metrics["rps"])
            print(f"round {i + 1}: plain locust {plain_rps[-1]:.1f} req/s, latency.load {mlqa_rps[-1]:.1f} req/s")
            agreement(f"closed, {users} users (info)", r, before, after)
        rate_ratio = statistics.median(mlqa_rps) / statistics.median(plain_rps)
        print(f"request rate: latency.load / plain locust = {rate_ratio:.3f} (target >= 0.90)")
        before = scrape(url)
        r = load(ctx, users=1, duration=f"{seconds}s", warmup="1s", slo=["error_rate < 1%"])
        after = scrape(url)
        ratios += agreement("closed, 1 user", r, before, after)

        t = time.perf_counter()
        cap = capacity(ctx) if "--no-capacity" not in args else None
        print(f"latency.capacity at the default SLO: {cap.message} ({time.perf_counter() - t:.0f}s)")
        at = next(p for p in cap.evidence["probes"] if p["holds"] and p["rate"] == cap.metrics["capacity_rps"])
        print(f"  at capacity: p50 {at['p50_ms']:.2f} ms, p99 {at['p99_ms']:.2f} ms")
        half = max(cap.metrics["capacity_rps"] / 2, 1)
        before = scrape(url)
        r = load(ctx, rate=f"{half:.2f}/s", duration=f"{seconds}s", warmup="1s", slo=["error_rate < 1%"])
        after = scrape(url)
        print(f"open model at half capacity ({half:.1f}/s): p50 {r.metrics['p50_ms']:.2f} ms, "
              f"p99 {r.metrics['p99_ms']:.2f} ms")
        ratios += agreement(f"open, {half:.1f}/s", r, before, after)
        print(f"  send lag (request left after its intended time): p50 {r.metrics['send_lag_p50_ms']:.2f} ms, "
              f"p99 {r.metrics['send_lag_p99_ms']:.2f} ms")
        worst = max(abs(x - 1) for x in ratios)
        print(f"percentile agreement with the server's histogram: worst |ratio - 1| = {worst:.3f} (target <= 0.10)")


if __name__ == "__main__":
    main()
