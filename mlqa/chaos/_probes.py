"""Steady-state probes. Each one is started before the method, sampled all along, and asked
`holds(since, now)`: does the steady state hold over what it saw since `since`? (True,
False, or None while it has not seen enough.) The load probe keeps every request it sent,
so the figures are computed afterwards from the raw requests, not from summaries."""
from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import Any

from ..endpoint import Endpoint
from ._spec import ProbeSpec

#: how far behind "now" a live load window ends: requests still in flight are not judged
LIVE_LAG_S = 0.25


def latency_stats(requests: list, scheduled: int, *, overdue: bool) -> dict[str, Any]:
    """Success rate and latency percentiles of `requests` (intended, done, ok, status);
    `scheduled` requests were due, and when `overdue` every missing one counts as failed."""
    import numpy as np
    n = len(requests)
    ok = sum(1 for r in requests if r.ok)
    missing = max(scheduled - n, 0) if overdue else 0
    denom = n + missing
    lat = np.array([max(r.done - r.intended, 0.0) * 1000 for r in requests]) if n else np.array([])
    pct = (lambda p: float(np.percentile(lat, p))) if n else (lambda p: float("nan"))
    return {"requests": float(n), "ok": float(ok), "missing": float(missing),
            "success_rate": ok / denom if denom else float("nan"),
            "error_rate": 1 - ok / denom if denom else float("nan"),
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "mean_ms": float(lat.mean()) if n else float("nan"), "max_ms": float(lat.max()) if n else float("nan"),
            "min_ms": float(lat.min()) if n else float("nan"), "rps": float("nan"), "percentile": pct}


class LoadProbe:
    kind = "load"

    def __init__(self, spec: ProbeSpec, endpoint: Endpoint, payload: dict) -> None:
        from ..loadgen import parse_slo
        self.spec = spec
        self.name = spec.name
        self.rate = float(spec.params["rate"])
        self.window = float(spec.params["window"])
        self.timeout = float(spec.params["timeout"])
        self.slos = [parse_slo(s) for s in spec.params["slo"]]
        self.endpoint, self.payload = endpoint, payload
        self.run = None

    def start(self, horizon_s: float) -> None:
        from ..loadgen import LoadRun
        self.run = LoadRun(self.endpoint, self.payload, rate=self.rate, seconds=horizon_s, timeout_s=self.timeout)
        self.run.start()

    def ready(self) -> bool:
        return self.run is not None and self.run.t0 is not None

    def poll(self, now: float) -> None:
        pass

    def requests_in(self, a: float, b: float, reqs: list | None = None) -> list:
        reqs = self.run.requests() if reqs is None else reqs
        return [r for r in reqs if a <= r.intended < b]

    def stats(self, a: float, b: float, now: float, reqs: list | None = None) -> dict:
        got = self.requests_in(a, b, reqs)
        # a request due before now - timeout that never arrived has failed; later ones may be in flight
        overdue = b <= now - self.timeout - 1.0
        return latency_stats(got, self.run.scheduled(a, b), overdue=overdue)

    def live(self, now: float) -> dict:
        """The last second (ending LIVE_LAG_S ago): success_rate, error_rate, p50, p99."""
        if not self.ready():
            return {}
        b = now - LIVE_LAG_S
        reqs = self.run.requests()
        st = self.stats(b - 1.0, b, now, reqs)
        # requests due more than `timeout` ago and still missing count as failed, live too
        late = self.stats(b - 1.0 - self.timeout - 1.0, b - self.timeout - 1.0, now, reqs)
        if late["missing"] > 0 and (st["requests"] == 0):
            st = late
        return {"success_rate": st["success_rate"], "error_rate": st["error_rate"], "p50": st["p50_ms"],
                "p99": st["p99_ms"]}

    def holds(self, since: float, now: float) -> tuple[bool | None, str]:
        if not self.ready():
            return None, "load not started yet"
        b = now - LIVE_LAG_S
        a = max(since, self.run.t0, b - self.window)
        if b - a < self.window * 0.9:
            return None, "not a full window yet"
        return self.judge(a, b, now)

    def judge(self, a: float, b: float, now: float, reqs: list | None = None) -> tuple[bool | None, str]:
        from ..loadgen import judge_slos
        st = self.stats(a, b, now, reqs)
        if st["requests"] == 0:
            return False, "no request answered"
        verdicts = judge_slos(self.slos, st)
        bad = [f"{v['slo']} (observed {v['observed']:.4g})" for v in verdicts if not v["holds"]]
        return (not bad), ("; ".join(bad) if bad else "SLOs hold")

    def stop(self) -> list:
        return self.run.stop() if self.run is not None else []


class TrainingProbe:
    kind = "training"

    def __init__(self, spec: ProbeSpec, backend: Any) -> None:
        self.spec = spec
        self.name = spec.name
        self.backend = backend
        self.samples: list[tuple[float, dict]] = []
        self.job: dict | None = None
        self._last_step: tuple[float, int] | None = None
        self._next = 0.0

    def start(self, horizon_s: float) -> None:
        self.job = self.backend.start_training(dict(self.spec.params["settings"]))

    def ready(self) -> bool:
        return self.job is not None

    def poll(self, now: float) -> None:
        if now < self._next:
            return
        self._next = now + 0.2
        t = self.backend.training()
        self.samples.append((now, t))
        step = (t.get("progress") or {}).get("step") or 0
        if self._last_step is None or step != self._last_step[1]:
            self._last_step = (now, step)

    @property
    def latest(self) -> dict:
        return self.samples[-1][1] if self.samples else {}

    def step(self) -> int:
        return int((self.latest.get("progress") or {}).get("step") or 0)

    def holds(self, since: float, now: float) -> tuple[bool | None, str]:
        t = self.latest
        status = t.get("status")
        if status == "succeeded":
            return True, "the job finished"
        if status != "running":
            return False, f"the job is {status}: {t.get('message', '')}".strip()
        if self._last_step is None or self._last_step[1] == 0:
            return (None if now - since < self.spec.params["min_progress"] else False), "no step yet"
        stalled = now - self._last_step[0]
        if stalled > self.spec.params["min_progress"]:
            return False, f"no step for {stalled:.0f}s"
        return True, f"step {self._last_step[1]}"

    def done(self) -> bool:
        return self.latest.get("status") not in (None, "running")

    def stop(self) -> None:
        """The job this probe started is not left running (a leftover of the run)."""
        if self.job is None:
            return
        t = self.backend.training()
        if t.get("status") == "running" and t.get("job_id") == self.job.get("job_id"):
            self.backend.stop_training()

    def figures(self) -> dict[str, Any]:
        t = self.latest
        p = t.get("progress") or {}
        # each launch's world size from the job's own log (exact); sampled progress otherwise
        worlds = [w for w in t.get("world_sizes") or [] if w] or \
            [s[1].get("progress", {}).get("world_size") for s in self.samples
             if (s[1].get("progress") or {}).get("world_size")]
        lost = list(t.get("work_lost_steps") or [])
        rejected = list(p.get("rejected_checkpoints") or [])
        return {"training_completed": t.get("status") == "succeeded",
                "training_steps_lost": float(sum(lost)) if t else float("nan"),
                "training_steps_lost_max": float(max(lost, default=0)) if t else float("nan"),
                "training_restarts": float(len(lost)),
                "world_size_min": float(min(worlds)) if worlds else float("nan"),
                "checkpoint_interval": float(t.get("checkpoint_every") or float("nan")),
                "checkpoint_integrity": not rejected and t.get("status") == "succeeded",
                "checkpoint_failures": float(p.get("checkpoint_failures") or 0),
                "_detail": {"status": t.get("status"), "message": t.get("message", ""), "final_step": p.get("step"),
                            "steps": t.get("steps"), "work_lost_steps": lost, "rejected_checkpoints": rejected,
                            "world_sizes": _changes(worlds)}}


def _changes(values: list) -> list:
    out: list = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


class PollProbe:
    """http / prometheus / command: sampled on a thread of its own every `interval`."""

    def __init__(self, spec: ProbeSpec, urls: dict[str, str]) -> None:
        self.spec = spec
        self.kind = spec.kind
        self.name = spec.name
        self.params = dict(spec.params)
        for key in ("url",):
            if isinstance(self.params.get(key), str):
                self.params[key] = _expand(self.params[key], urls)
        self.samples: list[tuple[float, bool, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._series = None
        self._client = None        # one client for the probe's life: a new one costs ~20 ms of CPU
        if self.kind == "prometheus":
            from ._prom import Series, parse_expr
            self.expr = parse_expr(self.params["expr"])
            self._series = Series(keep_s=(self.expr.window_s or 0) + 5)

    def start(self, horizon_s: float) -> None:
        if self.kind in ("http", "prometheus"):
            import httpx
            self._client = httpx.Client(follow_redirects=False)
        self._thread = threading.Thread(target=self._loop, name=f"mlqa-probe-{self.name}", daemon=True)
        self._thread.start()

    def ready(self) -> bool:
        return True

    def poll(self, now: float) -> None:
        pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            at = time.time()
            try:
                ok, detail = self.sample()
            except Exception as exc:  # noqa: BLE001 - a probe that cannot sample reports failing
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            self.samples.append((at, ok, detail[:300]))
            self._stop.wait(float(self.params["interval"]))

    def sample(self) -> tuple[bool, str]:
        if self.kind == "http":
            r = self._client.get(self.params["url"], timeout=float(self.params["timeout"]))
            if r.status_code != self.params["status"]:
                return False, f"status {r.status_code}, expected {self.params['status']}"
            if self.params.get("json_path"):
                value: Any = r.json()
                for part in self.params["json_path"].split("."):
                    value = value[int(part)] if isinstance(value, list) else value[part]
                if value != self.params.get("equals"):
                    return False, f"{self.params['json_path']} = {value!r}, expected {self.params.get('equals')!r}"
            return True, f"status {r.status_code}"
        if self.kind == "prometheus":
            from ._prom import holds, parse_scrape
            r = self._client.get(self.params["url"], timeout=5)
            r.raise_for_status()
            self._series.add(time.time(), parse_scrape(r.text))
            value = self._series.evaluate(self.expr)
            got = holds(self.expr, value)
            if got is None:          # absent, NaN, or too few scrapes for a rate: never a pass
                return False, f"{self.expr.text.split(self.expr.op)[0].strip()} is not measured (absent, NaN, or " \
                              f"too few scrapes yet)"
            return got, f"{self.expr.text.split(self.expr.op)[0].strip()} = {value:.4g}"
        proc = subprocess.run(list(self.params["run"]), capture_output=True, text=True,
                              timeout=float(self.params["timeout"]), errors="replace")
        if proc.returncode != self.params["exit_code"]:
            return False, f"exit {proc.returncode}, expected {self.params['exit_code']}: {proc.stderr.strip()[-160:]}"
        if self.params.get("stdout") and not re.search(self.params["stdout"], proc.stdout):
            return False, f"stdout does not match /{self.params['stdout']}/"
        return True, f"exit {proc.returncode}"

    def holds(self, since: float, now: float) -> tuple[bool | None, str]:
        """Held over every sample in [since, now]: one failing sample is a failure (the
        steady state must hold throughout), none is not measured yet."""
        seen = [s for s in self.samples if since <= s[0] <= now]
        if not seen:
            return None, "no sample yet"
        bad = next((s for s in seen if s[1] is not True), None)
        return (False, bad[2]) if bad is not None else (True, seen[-1][2])

    def settle_s(self) -> float:
        """How long after a reverse it must hold to count as recovered: two polls, 1 s at least."""
        return max(2 * float(self.params["interval"]), 1.0)

    def failing_now(self) -> bool:
        """Its latest sample failed (what a `probes_failing` stop condition counts)."""
        return bool(self.samples) and self.samples[-1][1] is False

    def first_ok_after(self, since: float) -> float | None:
        return next((at for at, ok, _ in self.samples if at >= since and ok), None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._client is not None and (self._thread is None or not self._thread.is_alive()):
            self._client.close()


def _expand(text: str, urls: dict[str, str]) -> str:
    for k, v in urls.items():
        text = text.replace("{" + k + "}", v)
    return text

