"""The two measurements the stack's own resilience tests and bench/stack_resilience.py
need: a zone lost under open-loop load through the gateway, and a training job run to its
end with a fault injected once it passes a step. Declarative experiments (steady state,
method, rollback, gating) belong to the chaos engine, not here."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..deadline import Deadline
from ..endpoint import Endpoint
from ..loadgen import measure
from ._control import Stack


@dataclass(frozen=True)
class ZoneLoss:
    zone: str
    rate: float
    steady_p99_ms: float
    fault_p99_ms: float
    fault_p50_ms: float
    scheduled: float
    requests: float
    errors: float
    #: seconds from the kill until the gateway had no healthy replica left in the zone
    out_of_rotation_s: float | None
    statuses: dict

    @property
    def success_rate(self) -> float:
        """Answered without error, over every request scheduled in the fault window (a
        request that never completed counts as failed)."""
        return (self.requests - self.errors) / self.scheduled if self.scheduled else float("nan")

    @property
    def p99_ratio(self) -> float:
        return self.fault_p99_ms / self.steady_p99_ms


def _endpoint(stack: Stack) -> Endpoint:
    return Endpoint(url=stack.gateway_url, protocol="oip-v2", model="model", header="Authorization",
                    scheme="Bearer", token=stack.token, timeout=5.0)


def sample_payload(stack: Stack, rows: int = 1) -> dict:
    """A valid inference request for the model the stack serves, from its training data."""
    import pandas as pd
    plan = json.loads((stack.state_dir / "plan.json").read_text())
    frame = pd.read_csv(plan["model"]["data"], nrows=max(rows, 1) * 10)
    if plan["model"].get("label"):
        frame = frame.drop(columns=plan["model"]["label"])
    return _endpoint(stack).payload(frame.head(rows))


def zone_loss_under_load(stack: Stack, zone: str, *, rate: float = 100.0, steady_s: float = 5.0,
                         fault_s: float = 8.0, kill_after_s: float = 2.0, restart: bool = True) -> ZoneLoss:
    """Measure `rate`/s through the gateway for `steady_s`; then again for `fault_s` while
    the whole `zone` is killed `kill_after_s` into it; then bring the zone back."""
    ep, payload = _endpoint(stack), sample_payload(stack)
    users = max(8, int(rate / 5))
    steady = measure(ep, payload, rate=rate, users=users, seconds=steady_s, warmup=1.0, label="steady")
    out: dict[str, Any] = {}

    def fault() -> None:
        time.sleep(1.0 + kill_after_s)                  # locust's start-up is ~1 s
        killed_at = time.time()
        stack.kill_zone(zone)
        while time.time() - killed_at < 10:
            if stack.gateway_state()["healthy_by_zone"].get(zone, 0) == 0:
                out["out_s"] = time.time() - killed_at
                return
            time.sleep(0.02)
    killer = threading.Thread(target=fault, daemon=True)
    killer.start()
    m = measure(ep, payload, rate=rate, users=users, seconds=fault_s, warmup=0.0, label=f"{zone} lost")
    killer.join(15)
    if restart:
        stack.restart_zone(zone)
        stack.wait(lambda s: s["gateway"]["healthy_by_zone"].get(zone, 0) == sum(
            len(n["replicas"]) for n in s["nodes"] if n["zone"] == zone), 60, f"{zone} back in rotation")
    st = m["stats"]
    return ZoneLoss(zone=zone, rate=rate, steady_p99_ms=steady["stats"]["p99_ms"], fault_p99_ms=st.get("p99_ms", float("nan")),
                    fault_p50_ms=st.get("p50_ms", float("nan")), scheduled=m["scheduled"], requests=st["requests"],
                    errors=st["error_rate"] * st["requests"] if st["requests"] else 0.0,
                    out_of_rotation_s=out.get("out_s"), statuses=m["statuses"])


@dataclass(frozen=True)
class TrainingRun:
    status: str
    final_loss: float | None
    world_sizes: tuple[int, ...]
    work_lost_steps: tuple[int, ...]
    rejected_checkpoints: tuple[str, ...]
    resumed_from: int | None
    fault_at_step: int | None
    seconds: float
    checkpoint_every: int


def train(stack: Stack, *, fault=None, at_step: int = 60, timeout: float = 240,  # noqa: ANN001
          deadline: Deadline | None = None, **settings: Any) -> TrainingRun:
    """Run a training job to its end; `fault(stack, progress)` is called once the job has
    passed `at_step`. Polls `deadline` (raising `Cancelled` when it must stop)."""
    deadline = deadline or Deadline.never()
    started = time.monotonic()
    stack.start_training(**settings)
    worlds: list[int] = []
    fault_step = None
    while True:
        t = stack.training()
        p = t.get("progress") or {}
        if p.get("world_size") and (not worlds or worlds[-1] != p["world_size"]):
            worlds.append(p["world_size"])
        if fault is not None and fault_step is None and (p.get("step") or 0) >= at_step:
            fault_step = p["step"]
            fault(stack, p)
        if t["status"] != "running":
            break
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"training did not end within {timeout:g}s: {t}")
        deadline.sleep(0.1)
    done = t.get("result") or {}
    # each launch's world size from the job's own log when the stack reports it (exact)
    return TrainingRun(status=t["status"], final_loss=done.get("final_loss"),
                       world_sizes=tuple(t.get("world_sizes") or worlds),
                       work_lost_steps=tuple(t.get("work_lost_steps", ())),
                       rejected_checkpoints=tuple(p.get("rejected_checkpoints") or ()),
                       resumed_from=p.get("resumed_from"), fault_at_step=fault_step,
                       seconds=time.monotonic() - started, checkpoint_every=t["checkpoint_every"])
