"""In-process inference latency and throughput per batch size, model size and peak memory."""
from __future__ import annotations

import time

import numpy as np

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Positive, PositiveInt


@check("latency.inference", requires=("model", "test"))
def inference(ctx: CheckContext, *, batch_sizes: list[PositiveInt] = [1, 32, 256], repeats: PositiveInt = 50,  # noqa: B006
              max_seconds: Positive = 10.0, max_p95_ms: Positive | None = None,
              min_rows_per_s: Positive | None = None) -> CheckResult:
    """Latency percentiles of `predict` (or `predict_proba`) as mlqa sees them (a model in
    its worker process: request to answer, the pipe included — about 0.1 ms), per batch size,
    with rows per second; the model file's size and the peak memory allocated while
    predicting the largest batch. Rows are drawn from the test data with the run's seed.
    Nothing is judged by default: set `max_p95_ms` (single-row p95, what an online caller
    waits) and/or `min_rows_per_s` (throughput at the largest batch).

    Parameters:
    batch_sizes: rows per call (default [1, 32, 256])
    repeats: timed calls per batch size (default 50; fewer if `max_seconds` runs out)
    max_seconds: time budget per batch size (default 10)
    max_p95_ms: highest allowed p95 latency of a single-row call, milliseconds
    min_rows_per_s: lowest allowed throughput at the largest batch, rows per second
    """
    model = ctx.model
    method = "predict_proba" if model.has_proba else "predict"
    X = ctx.test.X
    rng = np.random.default_rng(ctx.seed)
    rows = []
    for size in batch_sizes:
        batch = X.iloc[rng.integers(0, len(X), size)]
        model.timed(method, batch)  # warm-up
        times = []
        budget = time.perf_counter() + max_seconds
        for _ in range(repeats):
            ctx.deadline.check()
            times.append(model.timed(method, batch)[1] * 1000)
            if time.perf_counter() > budget:
                break
        arr = np.asarray(times)
        rows.append({"batch_size": size, "calls": len(arr), "p50_ms": float(np.percentile(arr, 50)),
                     "p95_ms": float(np.percentile(arr, 95)), "p99_ms": float(np.percentile(arr, 99)),
                     "mean_ms": float(arr.mean()), "rows_per_s": float(size / (arr.mean() / 1000))})
    largest = X.iloc[rng.integers(0, len(X), max(batch_sizes))]
    peak = model.timed(method, largest, trace_memory=True)[2] or 0
    size_bytes = model.source.stat().st_size if model.source is not None and model.source.exists() else None
    single = next((r for r in rows if r["batch_size"] == 1), rows[0])
    big = max(rows, key=lambda r: r["batch_size"])
    metrics = {"p95_ms": single["p95_ms"], "p50_ms": single["p50_ms"], "rows_per_s": big["rows_per_s"],
               "peak_memory_mb": peak / 1e6}
    if size_bytes is not None:
        metrics["model_size_mb"] = size_bytes / 1e6
    chart = bar_chart("Latency per batch size (p95, ms)", [f"batch {r['batch_size']}" for r in rows],
                      [r["p95_ms"] for r in rows], y_label="ms")
    # max_p95_ms judges the single-row p95 only: its line is drawn over that bar, not across
    chart["limits"] = [max_p95_ms if r is single else None for r in rows]
    return judge(metrics, {"p95_ms": ("<=", max_p95_ms), "rows_per_s": (">=", min_rows_per_s)},
                 detail=f"batch {big['batch_size']}: {big['rows_per_s']:.0f} rows/s",
                 evidence={"batches": rows, "charts": [chart]})
