"""The plan of a run: each fault's selector resolved against the live target (or, for a
stack a run would bring up, its topology), and the blast-radius guard that refuses a total
outage unless the file asks for one."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from ..deadline import Deadline
from ._catalogue import FAULTS
from ._spec import Experiment, FaultSpec
from .backends import Inventory, SelectorError


@dataclass
class Planned:
    spec: FaultSpec
    targets: list[str]
    affected: set[str]
    reverts: list[dict] = field(default_factory=list)
    injected_at: float | None = None
    reverted_at: float | None = None
    detected_at: float | None = None
    error: str = ""

    @property
    def id(self) -> str:
        return f"f{self.spec.index}"

    @property
    def label(self) -> str:
        return f"{self.spec.kind} {','.join(self.targets)}"


def open_backend(exp: Experiment, deadline: Deadline) -> Any:
    if exp.target.kind == "processes":
        from .backends.processes import LocalProcesses
        return LocalProcesses.open(exp.target.processes)
    from .backends.local import LocalStack
    return LocalStack.open(exp.target.topology, exp.target.state_dir, deadline)


def static_inventory(exp: Experiment) -> Inventory | None:
    """The inventory of the stack the experiment would bring up (for a dry run)."""
    if exp.target.kind != "stack" or exp.target.state_dir is not None:
        return None
    from .backends.local import inventory_of_topology
    return inventory_of_topology(exp.target.topology, training=exp.probe("training") is not None)


def live_inventory(exp: Experiment, backend: Any) -> Inventory:
    """The target's inventory now, plus, on a stack, the components the experiment's own
    training job will start."""
    if exp.target.kind == "stack" and exp.probe("training") is not None:
        return backend.inventory(training=True)
    return backend.inventory()


def plan_faults(exp: Experiment, backend: Any, inv: Inventory) -> list[Planned]:
    """Resolve every selector against `inv`; a selector that matches nothing is a
    ConfigError at its line. Then the blast-radius guard."""
    rng = random.Random(exp.seed)
    out = []
    for f in exp.method:
        try:
            targets = backend.resolve(f.kind, f.select, rng, inv)
        except SelectorError as exc:
            raise exp.error(f"{f.kind}: {exc}", "method", f.index, "select") from None
        out.append(Planned(spec=f, targets=targets, affected=backend.affected_nodes(f.kind, targets, inv)))
    if not exp.allow_total_outage:
        guard(exp, out, inv)
    return out


def guard(exp: Experiment, planned: list[Planned], inv: Inventory) -> None:
    """Refuse a plan that takes down every zone, every serving replica or every training
    node at once (faults overlapping in time; a fault timed by training step may overlap
    anything)."""
    def window(p: Planned) -> tuple[float, float]:
        return (0.0, math.inf) if p.spec.at_step is not None else (p.spec.at, p.spec.at + p.spec.duration)

    for p in planned:
        start = window(p)[0]
        live = [q for q in planned if window(q)[0] <= start < window(q)[1] or q is p]
        zones_out: set[str] = set()
        nodes_out: set[str] = set()
        replicas_out: set[str] = set()
        for q in live:
            k = q.spec.kind
            if k in ("zone-outage", "network-partition"):
                zones_out |= set(q.targets)
            elif k in ("node-kill", "node-pause"):
                nodes_out |= set(q.targets)
            elif k == "process-kill":
                replicas_out |= {t for t in q.targets if "/replica-" in t or t == "gateway"}
        nodes_out |= {n for n, z in inv.nodes.items() if z in zones_out}
        zones_out |= {z for z in inv.zones if all(n in nodes_out for n, nz in inv.nodes.items() if nz == z)}
        serving = {n for n, r in inv.replicas.items() if r}
        training = {n for n, g in inv.gpus.items() if g}
        what = None
        if inv.zones and set(inv.zones) <= zones_out:
            what = f"every zone ({', '.join(inv.zones)})"
        elif serving and serving <= nodes_out:
            what = f"every serving node ({', '.join(sorted(serving))})"
        elif training and training <= nodes_out and exp.probe("training") is not None:
            what = f"every training node ({', '.join(sorted(training))})"
        elif "gateway" in replicas_out or (inv.components and {c for c in inv.components if "/replica-" in c}
                                           and {c for c in inv.components if "/replica-" in c} <= replicas_out):
            what = "the gateway" if "gateway" in replicas_out else "every serving replica"
        if what:
            raise exp.error(f"this takes down {what} at once (from {p.spec.at:g}s): a total outage, "
                            f"not a resilience test", "method", p.spec.index,
                            hint="set `allow_total_outage: true` at the top level if that is the point")


def describe_plan(exp: Experiment, planned: list[Planned]) -> list[dict]:
    return [{"fault": p.spec.kind, "targets": p.targets, "line": p.spec.line,
             "at": (f"step {p.spec.at_step}" if p.spec.at_step is not None else f"{p.spec.at:g}s"),
             "duration_s": p.spec.duration, "reverse": FAULTS[p.spec.kind].reverse,
             **({k: v for k, v in p.spec.params.items()})} for p in planned]
