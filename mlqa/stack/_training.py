"""The training job as the control plane runs it: runs the TorchElastic rendezvous (a c10d
TCPStore in a process of its own, on no node, so losing any node never loses it; restarted
on the same port when it dies, as a Deployment would), starts one agent per live node,
restarts an agent on a node that comes back, and reports progress: step, loss, samples/s,
world size, restarts, the work each failure cost, and checkpoints rejected."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ..procs import free_port
from ._store import write_json
from ._topology import training_errors

#: restarts of a job's rendezvous within RENDEZVOUS_WINDOW_S before the job is failed
RENDEZVOUS_MAX_RESTARTS = 5
RENDEZVOUS_WINDOW_S = 60.0
#: how long agents may linger once the job wrote done.json (torchrun's exit barrier waits up
#: to 300 s for a peer that was killed): past it they are stopped and the job has succeeded
DONE_GRACE_S = 20.0


class TrainingJob:
    def __init__(self, sup: Any) -> None:
        self.sup = sup
        self.status = "idle"
        self.agents: dict[str, subprocess.Popen] = {}
        self.spec: dict | None = None
        self.rendezvous: subprocess.Popen | None = None
        self.rendezvous_restarts: list[float] = []     # when it was restarted (a backoff, a limit)
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.done_seen_at: float | None = None      # when done.json was first seen
        self.message = ""

    @property
    def job_dir(self) -> Path | None:
        return Path(self.spec["job_dir"]) if self.spec else None

    def start(self, overrides: dict) -> dict:
        if self.status == "running":
            raise RuntimeError("a training job is already running")
        problems = training_errors(overrides)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        settings = {**self.sup.topology["training"], **overrides}
        model = self.sup.plan["model"]
        data, label = model.get("data"), model.get("label")
        if not data or not label:
            raise ValueError("training needs the topology's model.data and model.label")
        nodes = job_nodes(self.sup.topology["nodes"], int(settings.get("nodes") or 0))
        if settings.get("min_nodes", 1) > len(nodes):
            raise ValueError(f"training on {len(nodes)} node(s) cannot meet min_nodes {settings.get('min_nodes')}")
        job_id = uuid.uuid4().hex[:8]
        job_dir = self.sup.dir / "jobs" / job_id
        (job_dir / "checkpoints").mkdir(parents=True)
        port = free_port()
        self.spec = {**settings, "job_id": job_id, "job_dir": str(job_dir), "rdzv_port": port, "data": data,
                     "label": label, "max_nodes": len(nodes),
                     "gpus_files": {n: str(self.sup.gpus_file(n)) for n in nodes},
                     "checkpoints_full_file": str(self.sup.volume_marker("checkpoints"))}
        write_json(job_dir / "spec.json", self.spec)
        self.status, self.started_at, self.finished_at, self.message = "running", time.time(), None, ""
        self.rendezvous_restarts, self.done_seen_at = [], None
        self._start_rendezvous()   # the agents' store clients retry until it listens
        for name in nodes:
            if self.sup.nodes[name]["status"] == "up":
                self._start_agent(name)
        self.sup._event("training_started", job=job_id, nodes=len(self.agents))
        return {"job_id": job_id, "job_dir": str(job_dir), "nodes": sorted(self.agents)}

    def _start_rendezvous(self) -> None:
        self.rendezvous = self.sup._spawn([sys.executable, "-m", "mlqa.stack._rendezvous", "--host", "127.0.0.1",
                                           "--port", str(self.spec["rdzv_port"])], "rendezvous.log")

    def _restart_rendezvous(self) -> bool:
        """Restart a dead rendezvous on its port, backing off (0.5 s, 1 s, 2 s ... 8 s) when it
        keeps dying; after RENDEZVOUS_MAX_RESTARTS within RENDEZVOUS_WINDOW_S (its port
        taken by another process, say) the job fails instead of spinning. False: it failed."""
        now = time.time()
        recent = [t for t in self.rendezvous_restarts if now - t < RENDEZVOUS_WINDOW_S]
        if len(recent) >= RENDEZVOUS_MAX_RESTARTS:
            self.stop(f"the rendezvous died {len(recent)} times within {RENDEZVOUS_WINDOW_S:g}s "
                      f"(see logs/rendezvous.log)")
            self.status, self.finished_at = "failed", now
            return False
        if recent and now - recent[-1] < min(2 ** len(recent) * 0.25, 8.0):
            return True                                     # backing off: not yet
        self.rendezvous_restarts.append(now)
        self.sup._event("rendezvous_restarted", exit_code=self.rendezvous.returncode)
        self._start_rendezvous()
        return True

    def _stop_rendezvous(self) -> None:
        if self.rendezvous is not None:
            from ._faults import reap
            reap([self.rendezvous])
            self.rendezvous = None

    def _start_agent(self, name: str) -> None:
        self.agents[name] = self.sup._spawn([sys.executable, "-m", "mlqa.stack._agent",
                                             str(self.job_dir / "spec.json"), name], f"{name}-agent.log", name)

    def agent_pids(self, node: str) -> list[int]:
        p = self.agents.get(node)
        return [p.pid] if p is not None and p.poll() is None else []

    def node_started(self, node: str) -> None:
        if self.status == "running" and self.spec and node in self.spec["gpus_files"]:
            self._start_agent(node)

    def node_killed(self, node: str) -> None:
        p = self.agents.pop(node, None)
        if p is not None:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def poll(self) -> None:
        if self.status != "running":
            return
        done = self.job_dir / "done.json"
        rendezvous_dead = self.rendezvous is not None and self.rendezvous.poll() is not None
        if rendezvous_dead and not done.exists() and not self._restart_rendezvous():
            return
        for name, p in list(self.agents.items()):
            code = p.poll()
            if code is None:
                continue
            if code != 0 and not done.exists() and self.sup.nodes[name]["status"] == "up":
                self.sup._event("agent_restarted", node=name, exit_code=code)
                self._start_agent(name)
        if done.exists():
            self.done_seen_at = self.done_seen_at or time.time()
            if time.time() - self.done_seen_at > DONE_GRACE_S:
                self._stop_lingering_agents()
        if done.exists() and all(p.poll() is not None for p in self.agents.values()):
            self._stop_rendezvous()
            self.status, self.finished_at = "succeeded", time.time()
            self.sup._event("training_succeeded", job=self.spec["job_id"])
        elif not done.exists() and not any(p.poll() is None for p in self.agents.values()) and \
                not any(self.sup.nodes[n]["status"] in ("up", "paused") for n in self.spec["gpus_files"]) and \
                not any(self.sup.nodes[n].get("restart_at") for n in self.spec["gpus_files"]):
            self._stop_rendezvous()
            self.status, self.finished_at = "failed", time.time()
            self.message = "every training node is down and none will be repaired"

    def _stop_lingering_agents(self) -> None:
        """The job's work is done (done.json) but an agent still runs: its torchrun waits in
        the exit barrier for a peer that was stopped (a node relaunched at that moment)."""
        from ._agent import stop_tree
        for name, p in self.agents.items():
            if p.poll() is None:
                self.sup._event("agent_stopped_after_done", node=name)
                stop_tree(p)

    def stop(self, reason: str = "the stack was stopped") -> None:
        for name in list(self.agents):
            if self.agents[name].poll() is None:
                from ._agent import stop_tree
                stop_tree(self.agents[name])
        self.agents.clear()
        self._stop_rendezvous()
        if self.status == "running":
            self.status, self.message = "stopped", reason

    def state(self) -> dict:
        if self.spec is None:
            return {"status": self.status}
        job = self.job_dir
        lost, worlds = launches(job / "steps.log")       # one read of the log per state
        progress = _read(job / "progress.json") or {}
        done = _read(job / "done.json")
        return {"status": self.status, "job_id": self.spec["job_id"], "job_dir": str(job), "message": self.message,
                "progress": progress, "result": done, "steps": self.spec["steps"],
                "work_lost_steps": lost, "world_sizes": worlds,
                "checkpoint_every": self.spec["checkpoint_every"],
                "agents": {n: {"pid": p.pid, "alive": p.poll() is None} for n, p in self.agents.items()},
                "rendezvous": {"port": self.spec["rdzv_port"], "pid": self.rendezvous.pid if self.rendezvous else None,
                               "alive": self.rendezvous is not None and self.rendezvous.poll() is None},
                "started_at": self.started_at, "finished_at": self.finished_at}


def job_nodes(nodes: list[dict], count: int) -> list[str]:
    """The nodes with GPUs a job runs on: all of them (`count` 0), or `count` taken one per
    zone in turn (zone-a's first, zone-b's first, ..., zone-a's second, ...)."""
    with_gpus = [n for n in nodes if n["gpus"] > 0]
    if not count:
        return [n["name"] for n in with_gpus]
    zones: dict[str, list[str]] = {}
    for n in with_gpus:
        zones.setdefault(n["zone"], []).append(n["name"])
    order = [z[i] for i in range(max(map(len, zones.values()), default=0)) for z in zones.values() if i < len(z)]
    return order[:count]


def launches(steps_log: Path) -> tuple[list[int], list[int]]:
    """(steps redone after each restart, world size of each launch), from one read of the
    job's steps.log. Steps redone: the furthest step reached before the restart, minus the
    step its checkpoint resumed from. World sizes: exact, where a sampled progress file can
    miss a launch that lived for a second."""
    lost: list[int] = []
    worlds: list[int] = []
    furthest, first = 0, True
    try:
        lines = steps_log.read_text().splitlines()
    except OSError:
        return [], []
    for line in lines:
        parts = line.split()
        if parts[:1] == ["step"]:
            furthest = max(furthest, int(parts[1]))
        elif parts[:1] == ["resume"]:
            if not first:
                lost.append(max(furthest - int(parts[1]), 0))
            first = False
            if len(parts) >= 4 and parts[2] == "world" and parts[3].isdigit():
                worlds.append(int(parts[3]))
    return lost, worlds


def work_lost(steps_log: Path) -> list[int]:
    """Steps redone after each restart (see `launches`)."""
    return launches(steps_log)[0]


def world_sizes(steps_log: Path) -> list[int]:
    """The world size of each launch of the job, in order (see `launches`)."""
    return launches(steps_log)[1]


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
