"""Bringing the stack up and down, and the client of its control plane (the fault surface
the stack's tests use and the chaos engine drives).

Lifecycle: `up`, `status` and `down` decide on the same picture (`_lifecycle.inspect_stack`:
running, half-dead or not running), and a process is signalled only when its start time and
the stack's tag match, never for a pid alone. `up` holds a pipe to the supervisor until the
stack is ready (killed before that, the stack stops itself)."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..deadline import Deadline
from ..errors import MlqaError
from ..procs import ProcessId, free_port
from ._lifecycle import DEFAULT_DIR, SUPERVISOR_MODULE, forget_supervisor, inspect_stack, kill_tagged
from ._store import ModelStore, write_json
from ._topology import Topology, load_topology

TOKEN_ENV = "MLQA_STACK_TOKEN"


class StackError(MlqaError):
    """The stack could not be brought up, reached or stopped."""


@dataclass(frozen=True)
class Stack:
    """A running stack: its gateway, the client token and the fault surface."""

    state_dir: Path
    gateway_url: str
    token: str
    control_url: str
    admin_token: str
    stack_id: str
    #: the token of the gateway's own /admin routes (not the supervisor's admin token)
    gateway_token: str = ""

    @classmethod
    def attach(cls, state_dir: str | Path = DEFAULT_DIR) -> "Stack":
        d = Path(state_dir).resolve()
        try:
            plan = json.loads((d / "plan.json").read_text())
            sec = json.loads((d / "secrets.json").read_text())
        except OSError:
            raise StackError(f"no stack in {d}: run `mlqa stack up` first") from None
        return cls(state_dir=d, gateway_url=f"http://127.0.0.1:{plan['gateway_port']}", token=sec["token"],
                   control_url=f"http://127.0.0.1:{plan['control_port']}", admin_token=sec["admin"],
                   stack_id=plan["stack_id"], gateway_token=sec.get("gateway", sec["admin"]))

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> Any:
        import httpx

        from ..localhttp import local_request
        try:
            r = local_request(method, self.control_url + path, json=body, timeout=timeout,
                              headers={"Authorization": f"Bearer {self.admin_token}"})
        except httpx.HTTPError as exc:
            raise StackError(f"the stack's control plane at {self.control_url} does not answer "
                             f"({type(exc).__name__}): is it up?") from None
        data = r.json()
        if r.status_code != 200:
            raise StackError(data.get("error", f"control plane answered {r.status_code}"))
        return data.get("result", data)

    def state(self) -> dict:
        """The stack's live state: zones, nodes (pids, replicas, GPUs), gateway, training,
        components, events and the faults active now."""
        return self._call("GET", "/state")

    def kill_node(self, node: str) -> list[int]:
        """SIGKILL every process of `node` (it stays down until restarted, or auto-repaired);
        returns the pids signalled."""
        return self._call("POST", f"/nodes/{node}/kill")["killed_pids"]

    def restart_node(self, node: str) -> None:
        """Start a killed node's processes again (its replicas, and its training agent while a
        job runs)."""
        self._call("POST", f"/nodes/{node}/restart")

    def pause_node(self, node: str) -> None:
        """SIGSTOP every process of `node`: a hung node (health checks must catch it by timeout)."""
        self._call("POST", f"/nodes/{node}/pause")

    def resume_node(self, node: str) -> None:
        """SIGCONT a paused node's processes (a no-op when it is not paused)."""
        self._call("POST", f"/nodes/{node}/resume")

    def pause_zone(self, zone: str) -> None:
        """SIGSTOP every process of every node of `zone` that is not down."""
        self._call("POST", f"/zones/{zone}/pause")

    def resume_zone(self, zone: str) -> None:
        self._call("POST", f"/zones/{zone}/resume")

    def kill_zone(self, zone: str) -> dict[str, list[int]]:
        """Kill every node of `zone`; returns the pids signalled per node."""
        return self._call("POST", f"/zones/{zone}/kill")

    def restart_zone(self, zone: str) -> None:
        """Restart every killed node of `zone`."""
        self._call("POST", f"/zones/{zone}/restart")

    def degrade_zone(self, zone: str, *, latency_ms: float = 0, drop: float = 0) -> dict:
        """Add latency to, or drop a share of, the traffic between the gateway and `zone`."""
        return self._call("PUT", f"/zones/{zone}/network", {"latency_ms": latency_ms, "drop": drop})

    def heal_zone(self, zone: str) -> dict:
        """Remove the zone's network fault (no added latency, nothing dropped)."""
        return self.degrade_zone(zone)

    def fault_gpu(self, node: str, index: int, xid: int = 79) -> dict:
        """Mark GPU `index` of `node` failed with NVIDIA XID `xid`: the worker on it fails its
        next step and the node's agent relaunches without it."""
        return self._call("POST", f"/nodes/{node}/gpus/{index}/fault", {"xid": xid})

    def heal_gpu(self, node: str, index: int) -> dict:
        """Mark the GPU healthy again (a replaced card): the agent relaunches with it."""
        return self._call("POST", f"/nodes/{node}/gpus/{index}/heal")

    def kill_component(self, name: str) -> dict:
        """SIGKILL one process and its whole tree: `gateway`, `<node>/replica-<i>` or
        `<node>/training-agent` (state()["components"] lists them). The control plane
        restarts it. Returns {"killed_pids": [...]}."""
        return self._call("POST", f"/components/{quote(name, safe='')}/kill")

    def stress_node(self, node: str, cpus: int = 1) -> dict:
        """Busy-loop `cpus` CPUs as processes of `node` (replacing any stress there)."""
        return self._call("POST", f"/nodes/{node}/stress", {"cpus": cpus})

    def unstress_node(self, node: str) -> dict:
        """Stop the node's busy processes (none there: nothing to do)."""
        return self._call("POST", f"/nodes/{node}/unstress")

    def fill_volume(self, volume: str) -> dict:
        """Fill `volume` ("checkpoints"): every write to it fails with ENOSPC until unfilled."""
        return self._call("POST", f"/volumes/{quote(volume, safe='')}/fill")

    def unfill_volume(self, volume: str) -> dict:
        """Give the volume its room back: writes to it succeed again."""
        return self._call("POST", f"/volumes/{quote(volume, safe='')}/unfill")

    def faults(self) -> list[dict]:
        """The faults active now: {kind, target, since, detail}; empty when the stack is whole."""
        return self.state()["faults"]

    def start_training(self, **overrides: Any) -> dict:
        """Start a training job with the topology's training settings, `overrides` on top
        (validated: an unknown or out-of-range setting is a StackError)."""
        return self._call("POST", "/training/start", overrides)

    def stop_training(self) -> None:
        """Stop the running training job (its agents and workers); a no-op when none runs."""
        self._call("POST", "/training/stop")

    def training(self) -> dict:
        """The training job's state: status, progress, steps redone per restart, world sizes."""
        return self.state()["training"]

    def gateway_state(self) -> dict:
        """The gateway's own view: each replica in rotation or not (and since when, by its
        clock), healthy replicas per zone, the network faults it applies."""
        from ..localhttp import local_request
        return local_request("GET", self.gateway_url + "/admin/state", timeout=2,
                             headers={"Authorization": f"Bearer {self.gateway_token}"}).json()

    def wait(self, predicate: Callable[[dict], Any], timeout: float, what: str,
             interval: float = 0.2, deadline: Deadline | None = None) -> Any:
        """Poll `predicate(state)` until it returns something truthy (bounded by `timeout`;
        a cancelled `deadline` — a check's — stops the wait with `Cancelled`)."""
        deadline = deadline or Deadline.never()
        limit = time.monotonic() + timeout
        while True:
            state = self.state()
            got = predicate(state)
            if got:
                return got
            if time.monotonic() > limit:
                raise StackError(f"timed out after {timeout:g}s waiting for {what}")
            deadline.sleep(interval)

    def down(self, timeout: float = 30) -> None:
        down(self.state_dir, timeout=timeout)

    def sample_payload(self, rows: int = 1) -> dict:
        """A valid OIP v2 inference request for the model the stack serves (rows of its
        training data, label dropped): what load through the gateway sends."""
        import pandas as pd

        from ..endpoint import Endpoint
        plan = json.loads((self.state_dir / "plan.json").read_text())
        frame = pd.read_csv(plan["model"]["data"], nrows=max(rows, 1) * 10)
        if plan["model"].get("label"):
            frame = frame.drop(columns=plan["model"]["label"])
        ep = Endpoint(url=self.gateway_url, protocol="oip-v2", model="model", header="Authorization",
                      scheme="Bearer", token=self.token, timeout=5.0)
        return ep.payload(frame.head(rows))


def _reference_model(build: Path, seed: int = 0) -> tuple[Path, Path, str]:
    """The stack's own model when the topology names none: a scikit-learn pipeline on a
    seeded synthetic credit-like table (fast to train, fast to serve)."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(seed)
    n = 2000
    frame = pd.DataFrame({"age": rng.integers(18, 80, n).astype(float), "hours": rng.normal(40, 10, n).round(),
                          "income_k": rng.lognormal(3.5, 0.5, n).round(1), "debt_ratio": rng.uniform(0, 1, n).round(3),
                          "tenure_y": rng.integers(0, 30, n).astype(float)})
    logit = 0.04 * (frame.age - 45) + 0.03 * (frame.hours - 40) + 0.02 * (frame.income_k - 35) \
        - 2.5 * (frame.debt_ratio - 0.5) + 0.05 * (frame.tenure_y - 15)
    frame["approved"] = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(frame.drop(columns="approved"), frame.approved)
    build.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, build / "reference-model.joblib")
    frame.to_csv(build / "reference-train.csv", index=False)
    return build / "reference-model.joblib", build / "reference-train.csv", "approved"


def up(topology: str | Path | Topology | None = None, state_dir: str | Path = DEFAULT_DIR, *,
       owner_pid: int | None = None, timeout: float = 90) -> Stack:
    """Start the stack and return once every replica is healthy behind the gateway. With
    `owner_pid`, the stack stops itself when that process is gone (a test session), even
    killed. Should this call end before the stack is ready (killed, interrupted, timed
    out), the stack stops itself too: nothing is left running."""
    d = Path(state_dir).resolve()
    status = inspect_stack(d)
    if status.running:
        raise StackError(f"a stack is already running in {d} (supervisor pid {status.supervisor.pid}): "
                         "`mlqa stack down` first (or pick --state-dir)")
    if status.half_dead:
        raise StackError(f"the stack in {d} is {status.describe()}; then `mlqa stack up` again")
    forget_supervisor(d)           # stale: names no supervisor of ours
    owner = None
    if owner_pid is not None:
        owner = ProcessId.of(owner_pid)
        if owner is None:
            raise StackError(f"owner_pid {owner_pid} is not a running process")
    topo = topology if isinstance(topology, Topology) else load_topology(topology)
    for sub in ("logs", "models", "nodes", "checkpoints"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    m = topo.model
    if m.path:
        model_file, data, label = Path(m.path), m.data, m.label
    else:
        model_file, data_path, label = _reference_model(d / "build")
        data = str(data_path)
    digest = ModelStore(d / "models").put(model_file)
    sec = {"token": secrets.token_urlsafe(24), "internal": secrets.token_urlsafe(24),
           "gateway": secrets.token_urlsafe(24), "admin": secrets.token_urlsafe(24)}
    write_json(d / "secrets.json", sec)
    os.chmod(d / "secrets.json", 0o600)
    (d / "token").write_text(sec["token"])
    os.chmod(d / "token", 0o600)
    topo_dict = asdict(topo)
    stack_id = uuid.uuid4().hex[:12]
    plan = {"stack_id": stack_id, "topology": topo_dict, "token_env": TOKEN_ENV,
            "gateway_port": free_port(), "control_port": free_port(), "owner_pid": owner_pid,
            "owner": {"pid": owner.pid, "started": owner.started} if owner else None,
            "replica_ports": {n.name: [free_port() for _ in range(n.replicas)] for n in topo.nodes},
            "model": {"digest": digest, "data": data, "label": label, "trusted": list(m.trusted)}}
    write_json(d / "plan.json", plan)
    # the launcher's lease: until `detach` is written, the supervisor stops itself when this
    # end closes (this process killed, or giving up); only the supervisor gets the read end
    lease_r, lease_w = os.pipe()
    try:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLQA_STACK_")},
               "MLQA_STACK_ID": stack_id, "MLQA_STACK_ROLE": "supervisor"}
        with open(d / "logs" / "supervisor.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", SUPERVISOR_MODULE, str(d), "--launcher-fd", str(lease_r)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=d, env=env, pass_fds=(lease_r,))
        os.close(lease_r)
        lease_r = -1
        ident = ProcessId.of(proc.pid)
        write_json(d / "supervisor.json", {"pid": proc.pid, "started": ident.started if ident else None,
                                           "stack_id": stack_id, "module": SUPERVISOR_MODULE})
        (d / "supervisor.pid").write_text(str(proc.pid))
        stack = _wait_ready(d, proc, timeout)
        try:
            os.write(lease_w, b"detach")
        except OSError:
            pass
        return stack
    except BaseException:
        os.close(lease_w)           # the supervisor stops itself on end of file ...
        lease_w = -1
        down(d, timeout=10)         # ... and whatever is left is killed now
        raise
    finally:
        for fd in (lease_r, lease_w):
            if fd >= 0:
                os.close(fd)


def _wait_ready(d: Path, proc: subprocess.Popen, timeout: float) -> Stack:
    stack = Stack.attach(d)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = (d / "logs" / "supervisor.log").read_text(errors="replace")[-1500:]
            raise StackError(f"the supervisor exited with {proc.returncode}:\n{tail}")
        try:
            if stack.state().get("ready"):
                return stack
        except StackError:
            pass
        if time.monotonic() > deadline:
            raise StackError(f"the stack was not ready within {timeout:g}s; logs in {d / 'logs'}")
        time.sleep(0.2)


def down(state_dir: str | Path = DEFAULT_DIR, timeout: float = 30) -> list[int]:
    """Stop the stack: ask its supervisor (when it is there: start time and tag checked),
    then kill whatever still carries the stack's id (walking every process, whatever
    session it started, whoever its parent is now). A pid file that names another process
    is removed, never acted on. Returns the pids it had to kill (a half-dead stack's
    leftovers; empty when the supervisor stopped everything, or nothing ran)."""
    d = Path(state_dir).resolve()
    status = inspect_stack(d)
    if status.stack_id is None:
        forget_supervisor(d)
        return []
    if status.supervisor is not None:
        try:
            Stack.attach(d)._call("POST", "/shutdown", timeout=5)
        except (StackError, ValueError, KeyError):
            pass
        deadline = time.monotonic() + timeout
        while status.supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    killed = kill_tagged(status.stack_id)
    forget_supervisor(d)
    return killed
