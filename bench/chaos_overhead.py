"""Does the chaos engine perturb what it measures? The same open-model rate through the
reference stack's gateway, measured twice, alternating, on one stack: a plain
`latency.load`-style run (`mlqa.loadgen.measure`), and a chaos experiment whose only
"fault" is a zero-latency network delay (the probes, the observer polling the gateway every
100 ms, the journal — everything but damage), judged over a window of the same length.

    python bench/chaos_overhead.py [--runs 3] [--rate 40] [--seconds 10]

Prints availability and p99 of each run, the medians and their ratio, and the median of the
p99 ratios of the back-to-back pairs (target: within 5% of 1). A p99 over one 10 s window at
40/s is the 4th-slowest of 400 requests: use --seconds 20 or more for a steadier figure.
Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

EXPERIMENT = """\
version: 1
name: no_fault
target: {{stack: local}}
steady_state:
  - load: {{rate: {rate}/s, slo: ["error_rate < 5%"], window: 2s}}
method:
  - {{fault: network-delay, select: {{zone: zone-a}}, latency: 0ms, at: 0s, duration: {seconds}s}}
verdict: ["availability >= 0%"]
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=40.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    from mlqa.chaos import run_experiment
    from mlqa.endpoint import Endpoint
    from mlqa.loadgen import measure
    from mlqa.stack import down, up
    with tempfile.TemporaryDirectory(prefix="mlqa-bench-overhead-") as tmp:
        os.environ["MLQA_STATE_DIR"] = str(Path(tmp) / "state")
        exp = Path(tmp) / "no-fault.yaml"
        exp.write_text(EXPERIMENT.format(rate=f"{a.rate:g}", seconds=f"{a.seconds:g}"))
        stack = up(None, Path(tmp) / "stack", owner_pid=os.getpid())
        ep = Endpoint(url=stack.gateway_url, protocol="oip-v2", model="model", header="Authorization",
                      scheme="Bearer", token=stack.token, timeout=5.0)
        payload = stack.sample_payload()
        plain: list[tuple[float, float]] = []
        chaos: list[tuple[float, float]] = []
        try:
            for i in range(a.runs):
                m = measure(ep, payload, rate=a.rate, users=8, seconds=a.seconds, warmup=2.0, label="plain")
                st = m["stats"]
                ok = (st["requests"] * (1 - st["error_rate"])) / m["scheduled"]
                plain.append((ok, st["p99_ms"]))
                r = run_experiment(exp, attach=stack.state_dir)
                chaos.append((r.metrics["availability"], r.metrics["p99_fault"]))
                print(f"run {i + 1}: plain availability {plain[-1][0]:.4f} p99 {plain[-1][1]:.2f} ms | "
                      f"chaos availability {chaos[-1][0]:.4f} p99 {chaos[-1][1]:.2f} ms ({r.status})")
        finally:
            down(stack.state_dir)
    pa, pp = statistics.median(x for x, _ in plain), statistics.median(y for _, y in plain)
    ca, cp = statistics.median(x for x, _ in chaos), statistics.median(y for _, y in chaos)
    paired = [c[1] / p[1] for p, c in zip(plain, chaos)]      # each pair ran back to back
    print(f"median availability: plain {pa:.4f}, chaos {ca:.4f}, ratio {ca / pa:.3f}")
    print(f"median p99: plain {pp:.2f} ms, chaos {cp:.2f} ms, ratio {cp / pp:.3f}")
    print(f"p99 ratio of each back-to-back pair: {', '.join(f'{r:.3f}' for r in paired)}; "
          f"median {statistics.median(paired):.3f} (target: within 5% of 1)")


if __name__ == "__main__":
    main()
