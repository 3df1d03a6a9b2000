"""The locustfile mlqa runs in a subprocess (locust patches the process with gevent at
import, so it never runs inside mlqa's own process). Configured by the JSON file named
in MLQA_LOAD_SPEC; writes one HDR histogram per process into the spec's out_dir.

Open model (`rate`): every user owns a share of a fixed schedule of intended send times,
as wrk2 does; latency is measured from the *intended* time, so a stalled server cannot
hide its tail behind requests that were never sent (coordinated omission).
Closed model (`users`): each user sends as soon as its previous answer arrives.

Live (`live: true`, what `LoadRun` starts): the schedule's origin goes to `t0-<pid>.json` at
test start and every completed request, as one line `[intended, done, ok, status]`, to
`live-<pid>.jsonl`, flushed every LIVE_FLUSH_S; once stopped (SIGTERM), nothing more is sent.
`timeout_s` bounds each request (connect and read), so a hung server gives errors instead of
a user stuck on it; a live run stops itself once the process that started it (`parent_pid`)
is gone.
"""
import json
import os
import signal
import threading
import time

import gevent
from hdrh.histogram import HdrHistogram
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["MLQA_LOAD_SPEC"]) as _fh:
    SPEC = json.load(_fh)
BODY = json.dumps(SPEC["payload"]).encode() if SPEC.get("payload") is not None else None
HEADERS = {**SPEC.get("headers", {}), **({"Content-Type": "application/json"} if BODY is not None else {})}
HIST = HdrHistogram(1, 120_000_000, 3)              # microseconds, 1 us .. 120 s, 3 digits
LAG = HdrHistogram(1, 120_000_000, 3)               # how late each request left its schedule
STATE = {"t0": None, "requests": 0, "errors": 0, "first": None, "last": None, "index": 0,
         "statuses": {}, "quitting": False, "sent": 0}
LOCK = threading.Lock()
#: gevent's libev loop waits in epoll, whose timeout is whole milliseconds: a sleep wakes
#: about 1 ms late, so the schedule asks to wake that much early
EPOLL_GRAIN_S = 0.001
#: live runs: completed requests not yet written, and how often they are
LIVE: list[str] | None = [] if SPEC.get("live") else None
LIVE_FLUSH_S = 0.1


def _in_window(intended: float) -> bool:
    start = STATE["t0"] + SPEC["warmup_s"]
    return start <= intended < start + SPEC.get("window_s", float("inf"))


def _record(intended: float, sent: float, done: float, ok: bool, status: int) -> None:
    if not _in_window(intended):
        return          # the warm-up, or the tail locust runs on so that in-window answers arrive
    # from the intended time when the request left late (the queue it waited in is latency),
    # from the actual send when it left early
    HIST.record_value(max(int((done - min(intended, sent)) * 1e6), 1))
    LAG.record_value(max(int((sent - intended) * 1e6), 1))
    STATE["requests"] += 1
    STATE["errors"] += 0 if ok else 1
    STATE["statuses"][str(status)] = STATE["statuses"].get(str(status), 0) + 1
    STATE["first"] = intended if STATE["first"] is None else min(STATE["first"], intended)
    STATE["last"] = done if STATE["last"] is None else max(STATE["last"], done)


def _flush_live() -> None:
    if not LIVE:
        return
    lines = "".join(LIVE)
    LIVE.clear()
    # whole lines in one append; a reader takes a line once its newline is there
    with open(os.path.join(SPEC["out_dir"], f"live-{os.getpid()}.jsonl"), "a") as fh:
        fh.write(lines)


def _set_t0(t: float) -> None:
    STATE["t0"] = t
    if LIVE is not None:
        out = os.path.join(SPEC["out_dir"], f"t0-{os.getpid()}.json")
        with open(out + ".tmp", "w") as fh:
            json.dump({"t0": t}, fh)
        os.replace(out + ".tmp", out)


def _write(final: bool) -> None:
    out = os.path.join(SPEC["out_dir"], f"{'hist' if final else 'progress'}-{os.getpid()}.json")
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"hist": HIST.encode().decode() if final else None,
                   "lag": LAG.encode().decode() if final else None, "requests": STATE["requests"],
                   "sent": STATE["sent"],
                   "errors": STATE["errors"], "first": STATE["first"], "last": STATE["last"],
                   "statuses": STATE["statuses"],
                   "p95_ms": HIST.get_value_at_percentile(95) / 1000 if STATE["requests"] else None}, fh)
    os.replace(tmp, out)


@events.test_start.add_listener
def _start(environment, **kwargs):
    _set_t0(time.time())

    def progress():
        while True:
            gevent.sleep(1.0)
            _write(final=False)
    gevent.spawn(progress)
    if LIVE is not None:
        def live():
            while True:
                gevent.sleep(LIVE_FLUSH_S)
                _flush_live()
                if SPEC.get("parent_pid") and os.getppid() != SPEC["parent_pid"]:
                    os.kill(os.getpid(), signal.SIGTERM)  # whoever started the run is gone: stop
                    return
        gevent.spawn(live)


@events.quitting.add_listener
def _quit(environment, **kwargs):
    STATE["quitting"] = True
    _flush_live()
    _write(final=True)


@events.quit.add_listener
def _quit_last(**kwargs):
    _flush_live()  # answers that arrived while locust stopped its users


class ModelUser(FastHttpUser):
    wait_time = constant(0)
    host = SPEC["host"]
    if SPEC.get("timeout_s"):
        network_timeout = connection_timeout = float(SPEC["timeout_s"])

    def on_start(self):
        if STATE["t0"] is None:
            _set_t0(time.time())
        self.slot = STATE["index"]
        STATE["index"] += 1
        self.k = 0

    def _send(self) -> tuple[bool, int]:
        try:
            if BODY is not None:
                resp = self.client.post(SPEC["route"], data=BODY, headers=HEADERS)
            else:
                resp = self.client.get(SPEC["route"], headers=HEADERS)
            return resp.status_code is not None and 200 <= resp.status_code < 400, resp.status_code or 0
        except Exception:  # noqa: BLE001 - a connection error is an error, not a crash
            return False, 0

    @task
    def request(self):
        rate = SPEC.get("rate_per_process")
        if rate:
            users = SPEC["users_per_process"]
            intended = STATE["t0"] + (self.k * users + self.slot) / rate
            self.k += 1
            delay = intended - time.time() - EPOLL_GRAIN_S
            if delay > 0:
                gevent.sleep(delay)
            if LIVE is not None and STATE["quitting"]:
                return  # a live run was stopped: nothing more leaves its schedule
        else:
            intended = time.time()
        sent = time.time()
        if _in_window(intended):
            STATE["sent"] += 1  # left in the window: answered, or counted as unanswered
        ok, status = self._send()
        done = time.time()
        _record(intended, sent, done, ok, status)
        if LIVE is not None:
            LIVE.append(f"[{intended:.6f},{done:.6f},{int(ok)},{int(status)}]\n")
