"""The local reference stack (`mlqa.stack`) as a chaos target: faults go through its
control plane (the same fault surface its own tests use), selectors resolve against its
live state, and a stack the experiment brought up is always taken down."""
from __future__ import annotations

import hashlib
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from ...deadline import Deadline
from ...endpoint import Endpoint
from ._base import Inventory, SelectorError, pick

#: faults whose effect the gateway must notice (a replica out of rotation): time to detect
DETECTED = ("zone-outage", "node-kill", "node-pause", "network-partition")


class LocalStack:
    name = "local-stack"

    def __init__(self, stack: Any, *, owned: bool, scratch: Path | None = None) -> None:
        self.stack = stack
        self.owned = owned
        self._scratch = scratch

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, topology: Path | None, state_dir: Path | None, deadline: Deadline) -> "LocalStack":
        """Attach to the stack running in `state_dir`, or bring one up for the experiment
        (stopped by `close`, and by the stack itself should this process die)."""
        from ...stack import Stack, StackError, up
        if state_dir is not None:
            try:
                stack = Stack.attach(state_dir)
                stack.state()
            except StackError as exc:
                raise SelectorError(f"the stack in {state_dir} cannot be reached: {exc}") from None
            return cls(stack, owned=False)
        deadline.check()
        scratch = Path(tempfile.mkdtemp(prefix="mlqa-chaos-stack-"))
        try:
            stack = up(str(topology) if topology else None, scratch / "stack", owner_pid=os.getpid(),
                       timeout=min(180.0, max(deadline.remaining(), 1.0)))
        except BaseException:
            import shutil
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return cls(stack, owned=True, scratch=scratch)

    @classmethod
    def attach(cls, descriptor: dict[str, Any]) -> "LocalStack":
        from ...stack import Stack
        return cls(Stack.attach(descriptor["state_dir"]), owned=False)

    def descriptor(self) -> dict[str, Any]:
        return {"backend": self.name, "state_dir": str(self.stack.state_dir)}

    def lock_key(self) -> str:
        return "stack-" + hashlib.sha256(str(self.stack.state_dir).encode()).hexdigest()[:16]

    def close(self) -> None:
        if self.owned:
            from ...stack import down
            down(self.stack.state_dir)
            if self._scratch is not None:
                import shutil
                shutil.rmtree(self._scratch, ignore_errors=True)

    # ------------------------------------------------------------------ what is there
    def state(self) -> dict:
        return self.stack.state()

    def inventory(self, *, training: bool = False) -> Inventory:
        """What the stack has now; with `training`, also the components the experiment's own
        job will start (the rendezvous, an agent per node with GPUs), so a fault timed by
        training step can name them before the job exists."""
        s = self.stack.state()
        comps = [c["name"] for c in s.get("components", [])]
        if training:
            comps += [c for c in _training_components(n["name"] for n in s["nodes"] if n["gpus"]) if c not in comps]
        return Inventory(zones=tuple(s["zones"]), nodes={n["name"]: n["zone"] for n in s["nodes"]},
                         replicas={n["name"]: len(n["replicas"]) for n in s["nodes"]},
                         gpus={n["name"]: len(n["gpus"]) for n in s["nodes"]},
                         components=tuple(comps), volumes=("checkpoints",))

    def resolve(self, kind: str, select: dict, rng: random.Random, inv: Inventory | None = None) -> list[str]:
        """The concrete targets of a selector: zones, nodes, `node/gpuN`, components or
        volumes. Raises SelectorError when it matches nothing."""
        inv = inv or self.inventory()
        if kind in ("zone-outage", "network-delay", "network-loss", "network-partition"):
            return pick(list(inv.zones), select["zone"], select, rng, "zone")
        if kind in ("node-kill", "node-pause", "cpu-stress"):
            if "node" in select:
                return pick(list(inv.nodes), select["node"], select, rng, "node")
            zones = pick(list(inv.zones), select["zone"], {}, rng, "zone")
            return pick([n for n, z in inv.nodes.items() if z in zones], "*", select, rng, "node")
        if kind == "gpu-fault":
            node = pick(list(inv.nodes), select["node"], {"count": 1}, rng, "node")[0]
            if select["gpu"] >= inv.gpus.get(node, 0):
                raise SelectorError(f"{node} has {inv.gpus.get(node, 0)} GPU(s); there is no GPU {select['gpu']}")
            return [f"{node}/gpu{select['gpu']}"]
        if kind == "process-kill":
            return pick(list(inv.components), select["component"], select, rng, "component")
        if kind == "disk-fill":
            return pick(list(inv.volumes), select["volume"], {"count": 1}, rng, "volume")
        raise SelectorError(f"the local stack has no fault {kind!r}")

    def affected_nodes(self, kind: str, targets: list[str], inv: Inventory) -> set[str]:
        """The nodes whose replicas the gateway must take out of rotation (DETECTED kinds)."""
        if kind in ("zone-outage", "network-partition"):
            return {n for n, z in inv.nodes.items() if z in targets and inv.replicas.get(n)}
        if kind in ("node-kill", "node-pause"):
            return {n for n in targets if inv.replicas.get(n)}
        return set()

    # ------------------------------------------------------------------ faults
    def inject(self, kind: str, targets: list[str], select: dict, params: dict) -> list[dict]:
        """Inject; return the actions that revert it. Called only after the actions (from
        `reverts`) are journaled."""
        s = self.stack
        for t in targets:
            if kind == "zone-outage":
                s.kill_zone(t)
            elif kind == "node-kill":
                s.kill_node(t)
            elif kind == "node-pause":
                s.pause_node(t)
            elif kind == "gpu-fault":
                node, gpu = t.rsplit("/gpu", 1)
                s.fault_gpu(node, int(gpu), int(params.get("xid", 79)))
            elif kind == "network-delay":
                s.degrade_zone(t, latency_ms=params["latency"] * 1000)
            elif kind == "network-loss":
                s.degrade_zone(t, drop=params["loss"])
            elif kind == "network-partition":
                s.degrade_zone(t, drop=1.0)
            elif kind == "process-kill":
                s.kill_component(t)
            elif kind == "cpu-stress":
                s.stress_node(t, cpus=int(params.get("cpus", 1)))
            elif kind == "disk-fill":
                s.fill_volume(t)
        return self.reverts(kind, targets)

    def reverts(self, kind: str, targets: list[str]) -> list[dict]:
        """The actions that undo `kind` on `targets` (journaled before injecting)."""
        inv_nodes = None
        out = []
        for t in targets:
            if kind == "zone-outage":
                inv_nodes = inv_nodes or self.inventory().nodes
                out += [{"action": "restart_node", "node": n} for n, z in sorted(inv_nodes.items()) if z == t]
            elif kind == "node-kill":
                out.append({"action": "restart_node", "node": t})
            elif kind == "node-pause":
                out.append({"action": "resume_node", "node": t})
            elif kind == "gpu-fault":
                node, gpu = t.rsplit("/gpu", 1)
                out.append({"action": "heal_gpu", "node": node, "gpu": int(gpu)})
            elif kind in ("network-delay", "network-loss", "network-partition"):
                out.append({"action": "heal_zone", "zone": t})
            elif kind == "process-kill":
                out.append({"action": "none", "component": t})
            elif kind == "cpu-stress":
                out.append({"action": "unstress_node", "node": t})
            elif kind == "disk-fill":
                out.append({"action": "unfill_volume", "volume": t})
        return out

    def revert(self, action: dict) -> None:
        """Undo one action; idempotent (a node already back is left alone)."""
        s, what = self.stack, action.get("action")
        if what == "restart_node":
            node = next((n for n in s.state()["nodes"] if n["name"] == action["node"]), None)
            if node is not None and node["status"] == "paused":
                s.resume_node(action["node"])
            if node is not None and node["status"] == "down":
                s.restart_node(action["node"])
        elif what == "resume_node":
            s.resume_node(action["node"])
        elif what == "heal_gpu":
            s.heal_gpu(action["node"], int(action["gpu"]))
        elif what == "heal_zone":
            s.heal_zone(action["zone"])
        elif what == "unstress_node":
            s.unstress_node(action["node"])
        elif what == "unfill_volume":
            s.unfill_volume(action["volume"])

    def active_faults(self) -> list[dict]:
        return list(self.stack.state().get("faults", []))

    # ------------------------------------------------------------------ probes' view
    def endpoint(self, timeout: float) -> Endpoint:
        return Endpoint(url=self.stack.gateway_url, protocol="oip-v2", model="model", header="Authorization",
                        scheme="Bearer", token=self.stack.token, timeout=timeout)

    def sample_payload(self) -> dict:
        return self.stack.sample_payload()

    def gateway_state(self) -> dict:
        return self.stack.gateway_state()

    def start_training(self, settings: dict) -> dict:
        return self.stack.start_training(**settings)

    def training(self) -> dict:
        return self.stack.training()

    def stop_training(self) -> None:
        self.stack.stop_training()

    def urls(self) -> dict[str, str]:
        return {"gateway": self.stack.gateway_url}


def inventory_of_topology(topology: Path | None, *, training: bool = False) -> Inventory:
    """The inventory a stack brought up from `topology` will have (for a dry run)."""
    from ...stack import load_topology
    topo = load_topology(topology)
    comps = ["gateway"] + [f"{n.name}/replica-{i + 1}" for n in topo.nodes for i in range(n.replicas)]
    if training:
        comps += _training_components(n.name for n in topo.nodes if n.gpus)
    return Inventory(zones=tuple(topo.zones), nodes={n.name: n.zone for n in topo.nodes},
                     replicas={n.name: n.replicas for n in topo.nodes}, gpus={n.name: n.gpus for n in topo.nodes},
                     components=tuple(comps), volumes=("checkpoints",))


def _training_components(gpu_nodes: Any) -> list[str]:
    return ["rendezvous"] + [f"{name}/training-agent" for name in gpu_nodes]
