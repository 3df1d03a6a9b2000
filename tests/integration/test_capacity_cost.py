"""latency.capacity and cost.per_1k_predictions against a real server on 127.0.0.1 whose
capacity is known: it answers one request at a time in 20 ms, so it saturates near 50/s."""
import sys
from types import SimpleNamespace

import pandas as pd
import pytest

from mlqa.config import CheckInstance
from mlqa.suites.cost import per_1k_predictions
from mlqa.suites.latency import capacity
from mlqa.loadgen import LOCUSTFILE

from conftest import make_context

from servers import free_port, processes_mentioning, running

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

APP = '''
import asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

LOCK = asyncio.Lock()

async def infer(request):
    await request.body()
    async with LOCK:                      # one at a time: 20 ms each, ~50 requests/s at most
        await asyncio.sleep(0.02)
    return JSONResponse({"outputs": [{"name": "label", "shape": [1], "datatype": "FP64", "data": [1]}]})

async def ready(request):
    return JSONResponse({"ready": True})

app = Starlette(routes=[Route("/v2/models/model/infer", infer, methods=["POST"]),
                        Route("/v2/health/ready", ready)])
'''

SEARCH = {"slo": ["p95 < 100ms", "error_rate < 1%"], "start": "20/s", "max_rate": "400/s", "probe": "2s",
          "warmup": "0.5s", "precision": 0.25}


@pytest.fixture(scope="module")
def serial_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capapp")
    (folder / "cap_app.py").write_text(APP)
    port = free_port()
    with running([sys.executable, "-m", "uvicorn", "cap_app:app", "--port", str(port), "--log-level", "warning"],
                 port=port, cwd=folder) as url:
        yield url


@pytest.fixture(scope="module")
def searched(serial_server):
    """One context whose capacity is searched once; the checks below share the measurement."""
    frame = pd.DataFrame({"x": [0.1, 0.5, 0.9] * 10, "label": [0, 1, 1] * 10})
    ctx = make_context(frame, frame, label="label", positive=1)
    ctx.endpoint = {"url": serial_server, "protocol": "oip-v2", "model": "model", "replicas": 2}
    ctx.config = config_with(SEARCH)
    return ctx, capacity(ctx, **SEARCH, min_rate="20/s")


def config_with(search):
    """What the cost check reads of the run's config: its latency.capacity entry."""
    entry = CheckInstance(key="latency.capacity", check_id="latency.capacity", params=search, timeout=None, line=1)
    return SimpleNamespace(checks=(entry,))


def test_capacity_finds_the_knee_and_reports_it_per_replica(searched):
    _, r = searched
    assert r.status == "passed", r.message
    assert 25 <= r.metrics["capacity_rps"] <= 65, r.evidence["probes"]
    assert r.metrics["capacity_rps_per_replica"] == pytest.approx(r.metrics["capacity_rps"] / 2)
    probes = r.evidence["probes"]
    assert any(not p["holds"] for p in probes) and all(p["holds"] == (p["why_not"] == "") for p in probes)
    assert not r.evidence["capped"] and r.evidence["slos_at_capacity"]
    assert r.thresholds == {"capacity_rps": ">= 20"} and "per replica over 2" in r.message


def test_min_rate_above_the_capacity_fails(searched):
    ctx, first = searched
    r = capacity(ctx, **SEARCH, min_rate="500/s")       # the same search, so the same measurement
    assert r.status == "failed" and "below min_rate 500/s" in r.message
    assert r.evidence["probes"] == first.evidence["probes"]


def test_cost_uses_the_measured_capacity(searched):
    ctx, cap = searched
    r = per_1k_predictions(ctx, price_per_hour=3.6, max_usd=1.0)
    expected = 3.6 / (cap.metrics["capacity_rps"] * 3600) * 1000
    assert r.status == "passed", r.message
    assert r.metrics["usd_per_1k_predictions"] == pytest.approx(expected)
    assert r.evidence["probes"] == cap.evidence["probes"], "the cost reuses the capacity measurement"


def test_cost_above_max_usd_fails(searched):
    ctx, cap = searched
    r = per_1k_predictions(ctx, price_per_hour=3.6, max_usd=0.01, utilization=0.5)
    expected = 3.6 / (cap.metrics["capacity_rps"] * 0.5 * 3600) * 1000
    assert r.status == "failed" and r.metrics["usd_per_1k_predictions"] == pytest.approx(expected)
    assert "exceeds max_usd" in r.message and r.thresholds == {"usd_per_1k_predictions": "<= 0.01"}


def test_slo_that_never_holds_fails_capacity_and_cost(searched, serial_server):
    ctx, _ = searched
    strict = {**SEARCH, "slo": ["p95 < 5ms"]}            # every answer takes 20 ms
    r = capacity(ctx, **strict)
    assert r.status == "failed" and r.metrics["capacity_rps"] == 0 and len(r.evidence["probes"]) == 1
    assert "does not hold even at 20/s" in r.message and "p95 < 5ms" in r.message
    shared, ctx.config = ctx.config, config_with(strict)
    try:
        c = per_1k_predictions(ctx, price_per_hour=1.0, max_usd=100.0)
    finally:
        ctx.config = shared
    assert c.status == "failed" and "unbounded" in c.message


def test_no_locust_process_is_left_behind():
    assert processes_mentioning(str(LOCUSTFILE)) == []  # this checkout's, not another run's
