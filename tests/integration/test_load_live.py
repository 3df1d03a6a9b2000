"""LoadRun, a load run read while it runs, against a real server on 127.0.0.1: requests
arrive while locust runs, the schedule's counts are exact, a stalled server gives timeouts
(not a hung run), a failing one ok=False with its status, and stop() leaves no process.

No assertion on wall-clock durations: waits are bounded loops with generous limits, rates
are low (20/s) and counts are compared with wide tolerances or as exact schedule arithmetic."""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import free_port, processes_mentioning, running

from mlqa.endpoint import Endpoint
from mlqa.loadgen import LOCUSTFILE, LoadRun, Request
from mlqa.procs import pid_alive

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

#: the model name picks the behaviour: `fast` answers, `fail` answers 500, `stall` never
#: answers (until the client gives up and disconnects)
APP = '''
import asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def infer(request):
    await request.body()
    model = request.path_params["model"]
    if model == "stall":
        for _ in range(600):  # ends once the client has gone, so the server stops promptly
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.05)
        return JSONResponse({"late": True})
    if model == "fail":
        return JSONResponse({"error": "boom"}, status_code=500)
    return JSONResponse({"outputs": [{"name": "label", "shape": [1], "datatype": "FP64", "data": [1]}]})

async def ready(request):
    return JSONResponse({"ready": True})

app = Starlette(routes=[Route("/v2/models/{model}/infer", infer, methods=["POST"]),
                        Route("/v2/health/ready", ready)])
'''
PAYLOAD = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.5]}]}
RATE = 20.0
#: bounds on the polling loops (never asserted as durations: a slow machine only waits longer)
WAIT_S = 60.0


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("liveapp")
    (folder / "live_app.py").write_text(APP)
    port = free_port()
    with running([sys.executable, "-m", "uvicorn", "live_app:app", "--port", str(port), "--log-level",
                  "warning"], port=port, cwd=folder) as base:
        yield base


def endpoint(url: str, model: str) -> Endpoint:
    return Endpoint(url=url, protocol="oip-v2", model=model, header="Authorization", scheme="Bearer",
                    token=None, timeout=5.0)


def wait_for(predicate, what: str, limit_s: float = WAIT_S):
    end = time.monotonic() + limit_s
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def started(run: LoadRun) -> float:
    run.start()
    return wait_for(lambda: run.t0 or (not run.running and pytest.fail(f"locust exited: {run.stderr()}")),
                    "the schedule to start")


def at_least(run: LoadRun, n: int):
    """A predicate: the requests completed so far once there are `n` of them, else None."""
    def check():
        reqs = run.requests()
        return reqs if len(reqs) >= n else None
    return check


def slot_of(run: LoadRun, r: Request) -> int:
    """The schedule slot i of a request (intended = t0 + i / rate, to the microsecond)."""
    x = (r.intended - run.t0) * run.rate
    assert abs(x - round(x)) < 1e-3, f"{r.intended} is not on the schedule"
    return round(x)


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in process group `pgid` (read from /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def test_requests_arrive_while_the_run_goes_on_and_lie_on_its_schedule(url):
    with LoadRun(endpoint(url, "fast"), PAYLOAD, rate=RATE, seconds=120, timeout_s=5) as run:
        t0 = started(run)
        first = wait_for(lambda: run.requests(), "a first request")
        assert run.running  # read live, not after the run
        more = wait_for(at_least(run, len(first) + 10), "more requests")
        assert more[:len(first)] == first  # incremental reads keep what was read before
        assert run.running
    reqs = run.stop()
    assert len(reqs) >= len(more) and run.t0 == t0
    assert all(isinstance(r, Request) and r.ok and r.status == 200 for r in reqs)
    assert all(r.done >= r.intended - 0.01 for r in reqs)  # sent no earlier than scheduled
    slots = [slot_of(run, r) for r in reqs]
    assert len(set(slots)) == len(slots)  # one request per slot
    due = run.scheduled(t0, time.time() + 3600)  # the schedule ended at stop()
    assert max(slots) < due
    assert len(reqs) <= due
    assert run.stop() == reqs  # idempotent


def test_the_schedule_counts_rate_times_the_window(url):
    with LoadRun(endpoint(url, "fast"), PAYLOAD, rate=RATE, seconds=30, timeout_s=5) as run:
        assert run.t0 is None and run.scheduled(0, time.time() + 10) == 0  # not started yet
        t0 = started(run)
        assert run.scheduled(t0, t0 + 2) == 40
        assert run.scheduled(t0 + 0.5, t0 + 1.5) == 20
        assert run.scheduled(t0 - 5, t0) == 0 and run.scheduled(t0 - 5, t0 + 0.01) == 1  # slot 0 at t0
        assert run.scheduled(t0 + 1, t0 + 1) == 0 and run.scheduled(t0 + 2, t0 + 1) == 0
        cuts = [t0 + x for x in (0, 0.33, 0.71, 1.0, 1.26, 2.9, 3.0)]
        assert sum(run.scheduled(a, b) for a, b in itertools.pairwise(cuts)) == run.scheduled(cuts[0], cuts[-1])
        assert run.scheduled(t0, t0 + 3600) == 30 * 20  # the run's `seconds` end the schedule
        # what arrived over a window: at most what was due there, and (generously) some of it
        wait_for(lambda: run.requests() and max(r.intended for r in run.requests()) >= t0 + 2.2,
                 "requests past the first two seconds")
        reqs = [r for r in run.requests() if t0 <= r.intended < t0 + 2]
        assert 0 < len(reqs) <= run.scheduled(t0, t0 + 2)
    stopped_due = run.scheduled(t0, t0 + 3600)
    assert 40 <= stopped_due < 30 * 20  # stop() ended the schedule early
    assert len(run.stop()) <= stopped_due


def test_a_stalled_server_gives_timeouts_not_a_hung_run(url):
    with LoadRun(endpoint(url, "stall"), PAYLOAD, rate=RATE, seconds=120, timeout_s=0.5) as run:
        started(run)
        got = wait_for(at_least(run, 5), "timed-out requests")
        assert all(not r.ok and r.status == 0 for r in got)
        assert all(r.done - r.intended >= 0.4 for r in got)  # the client gave up, no answer
    assert all(not r.ok for r in run.stop())
    assert not run.running


def test_a_server_error_is_not_ok_and_keeps_its_status(url):
    with LoadRun(endpoint(url, "fail"), PAYLOAD, rate=RATE, seconds=60, timeout_s=5) as run:
        started(run)
        got = wait_for(at_least(run, 5), "answers")
    assert all(not r.ok and r.status == 500 for r in got)
    assert all(not r.ok and r.status == 500 for r in run.stop())


def test_a_connection_refused_is_status_0():
    with LoadRun(endpoint(f"http://127.0.0.1:{free_port()}", "fast"), PAYLOAD, rate=RATE, seconds=60,
                 timeout_s=2) as run:
        started(run)
        got = wait_for(at_least(run, 3), "errors")
    assert all(not r.ok and r.status == 0 for r in got)


def test_stop_leaves_no_process_and_no_files(url):
    run = LoadRun(endpoint(url, "stall"), PAYLOAD, rate=RATE, seconds=120, timeout_s=5)
    assert run.stop() == []  # before start: nothing to stop, safe in `finally`
    run = LoadRun(endpoint(url, "stall"), PAYLOAD, rate=RATE, seconds=120, timeout_s=5)
    try:
        started(run)
        pid = run.pid
        folder = run._dir
        assert pid_alive(pid) and group_alive(pid) and Path(folder).is_dir()
        wait_for(lambda: run.scheduled(run.t0, time.time()) > 10, "requests in flight")
    finally:
        run.stop()
    assert not pid_alive(pid) and not group_alive(pid)
    assert not Path(folder).exists()
    assert not run.running and run.requests() == run.stop()
    with pytest.raises(RuntimeError):
        run.start()  # a run starts once


def test_an_exception_in_the_with_block_still_stops_locust(url):
    with pytest.raises(KeyError), LoadRun(endpoint(url, "fast"), PAYLOAD, rate=RATE, seconds=120) as run:
        started(run)
        pid = run.pid
        raise KeyError("boom")
    assert not pid_alive(pid) and not group_alive(pid)


def test_a_forgotten_run_is_stopped_when_collected(url):
    import gc
    run = LoadRun(endpoint(url, "fast"), PAYLOAD, rate=RATE, seconds=120)
    started(run)
    pid = run.pid
    del run
    gc.collect()
    assert not pid_alive(pid) and not group_alive(pid)


ORPHAN = """
import os, sys, time
from mlqa.endpoint import Endpoint
from mlqa.loadgen import LoadRun
ep = Endpoint(url=sys.argv[1], protocol="oip-v2", model="fast", header="Authorization", scheme="Bearer",
              token=None, timeout=5.0)
run = LoadRun(ep, {}, rate=20, seconds=600)
run.start()
end = time.monotonic() + 60
while run.t0 is None and time.monotonic() < end:
    time.sleep(0.05)
print(run.pid, run._dir, flush=True)
os._exit(0)  # no stop(), no finalizer: as if killed
"""


def test_locust_stops_itself_when_the_process_that_started_it_is_gone(url):
    out = subprocess.run([sys.executable, "-c", ORPHAN, url], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    pid, folder = out.stdout.split()
    try:
        wait_for(lambda: not group_alive(int(pid)), "the orphaned locust to stop")
    finally:
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def test_the_users_default_and_bad_arguments(url):
    ep = endpoint(url, "fast")
    assert LoadRun(ep, PAYLOAD, rate=20).users == 8
    assert LoadRun(ep, PAYLOAD, rate=250).users == 25
    assert LoadRun(ep, PAYLOAD, rate=20, users=3).users == 3
    for bad in ({"rate": 0}, {"rate": -1}, {"rate": 5, "seconds": 0}, {"rate": 5, "timeout_s": 0}):
        with pytest.raises(ValueError):
            LoadRun(ep, PAYLOAD, **bad)


def test_no_locust_process_is_left_behind():
    assert processes_mentioning(str(LOCUSTFILE)) == []
