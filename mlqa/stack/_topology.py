"""The reference stack's topology: zones, nodes per zone, simulated GPUs and serving replicas
per node, read from YAML with errors that name the line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..yamldoc import LocatedYaml, load_yaml

TOP_KEYS = ("version", "zones", "nodes_per_zone", "gpus_per_node", "replicas_per_node", "node_restart_delay_s",
            "gateway", "training", "model")
GATEWAY_KEYS = ("health_interval_s", "unhealthy_after", "try_timeout_s", "retries", "rate_limit")
TRAINING_KEYS = ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "min_nodes", "nodes", "lr", "seed",
                 "step_time_s", "checkpoint_write_errors")
#: what a worker does when a checkpoint write fails (a full disk): note it and carry on, or
#: let the error end the worker (as a training loop that does not catch it does)
CHECKPOINT_WRITE_ERRORS = ("skip", "fatal")
MODEL_KEYS = ("path", "data", "label", "trusted")

DEFAULT = """\
# The embedded default: 3 zones x 2 nodes, 2 simulated GPUs and 1 serving replica per node.
version: 1
zones: [zone-a, zone-b, zone-c]
nodes_per_zone: 2
gpus_per_node: 2
replicas_per_node: 1
node_restart_delay_s: null      # null: a killed node stays down until restarted (auto-repair off)
gateway:
  health_interval_s: 0.2        # active health check of every replica
  unhealthy_after: 2            # consecutive failed checks that take a replica out
  try_timeout_s: 1.0            # one attempt's timeout; a retry goes to another zone
  retries: 2
  rate_limit: 1000/s            # per client
training:
  steps: 300
  batch_size: 64
  checkpoint_every: 25
  keep_checkpoints: 3
  min_nodes: 1
  lr: 0.05
  seed: 0
  step_time_s: 0.02             # simulated GPU compute per step
  checkpoint_write_errors: skip # a failed checkpoint write (disk full): skip (carry on) or fatal
"""


@dataclass(frozen=True)
class Node:
    name: str
    zone: str
    gpus: int
    replicas: int


@dataclass(frozen=True)
class GatewaySettings:
    health_interval_s: float = 0.2
    unhealthy_after: int = 2
    try_timeout_s: float = 1.0
    retries: int = 2
    rate_limit: str = "1000/s"


@dataclass(frozen=True)
class TrainingSettings:
    steps: int = 300
    batch_size: int = 64
    checkpoint_every: int = 25
    keep_checkpoints: int = 3
    min_nodes: int = 1
    #: nodes the job runs on, taken one per zone in turn (0: every node with GPUs)
    nodes: int = 0
    lr: float = 0.05
    seed: int = 0
    step_time_s: float = 0.02
    checkpoint_write_errors: str = "skip"


@dataclass(frozen=True)
class ModelSettings:
    """The model the replicas serve; None: the stack's own reference model."""
    path: str | None = None
    data: str | None = None
    label: str | None = None
    trusted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topology:
    zones: tuple[str, ...]
    nodes: tuple[Node, ...]
    node_restart_delay_s: float | None = None
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    source: str = "<default>"

    def nodes_in(self, zone: str) -> list[Node]:
        return [n for n in self.nodes if n.zone == zone]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")


def load_topology(path: str | Path | None = None) -> Topology:
    """The topology in `path`, or the embedded default."""
    if path is None:
        return parse_topology(load_yaml(DEFAULT, "<default topology>"))
    p = Path(path)
    return parse_topology(load_yaml(p.read_text(), p), base=p.resolve().parent)


def parse_topology(doc: LocatedYaml, base: Path | None = None) -> Topology:
    root = doc.data
    if not isinstance(root, dict):
        raise doc.error("a topology is a mapping: zones, nodes_per_zone, gpus_per_node, ...")
    doc.known_keys(root, TOP_KEYS, ())
    if root.get("version", 1) != 1:
        raise doc.error("`version` must be 1", "version")
    zones = root.get("zones")
    if not (isinstance(zones, list) and zones and all(isinstance(z, str) and z for z in zones)):
        raise doc.error("`zones` must be a non-empty list of zone names", "zones")
    if len(set(zones)) != len(zones):
        raise doc.error("zone names must be distinct", "zones")
    per_zone = _count(doc, root, "nodes_per_zone", 2, minimum=1)
    gpus = _count(doc, root, "gpus_per_node", 2, minimum=0)
    replicas = _count(doc, root, "replicas_per_node", 1, minimum=0)
    delay = root.get("node_restart_delay_s")
    if delay is not None and (not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0):
        raise doc.error("`node_restart_delay_s` is seconds (>= 0) or null", "node_restart_delay_s")
    nodes = tuple(Node(name=f"{z}-node-{i + 1}", zone=z, gpus=gpus, replicas=replicas)
                  for z in zones for i in range(per_zone))
    raw_gateway = _section(doc, root, "gateway", GATEWAY_KEYS, GatewaySettings())
    from ._gateway import settings_errors
    for key, message in settings_errors(raw_gateway):
        raise doc.error(message, "gateway", key)
    gateway = GatewaySettings(**raw_gateway)
    raw_training = _section(doc, root, "training", TRAINING_KEYS, TrainingSettings())
    for key, message in training_errors(raw_training):
        raise doc.error(message, "training", key)
    training = TrainingSettings(**raw_training)
    if training.min_nodes > len(nodes):
        raise doc.error(f"training.min_nodes ({training.min_nodes}) exceeds the {len(nodes)} nodes",
                        "training", "min_nodes")
    raw_model = _section(doc, root, "model", MODEL_KEYS, ModelSettings())
    if raw_model.get("path") and base is not None:
        for key in ("path", "data"):
            if raw_model.get(key):
                resolved = (base / raw_model[key]).resolve()
                if not resolved.exists():
                    raise doc.error(f"model.{key}: {resolved} does not exist", "model", key)
                raw_model[key] = str(resolved)
    raw_model["trusted"] = tuple(raw_model.get("trusted") or ())
    return Topology(zones=tuple(zones), nodes=nodes, node_restart_delay_s=delay, gateway=gateway,
                    training=training, model=ModelSettings(**raw_model), source=doc.file)


#: the largest value of each numeric training setting (a job of 10**18 steps never ends; a
#: seed past 2**32 - 1 is refused by the generators)
TRAINING_MAX = {"steps": 10_000_000, "batch_size": 1_000_000, "checkpoint_every": 10_000_000,
                "keep_checkpoints": 10_000, "min_nodes": 10_000, "nodes": 10_000, "seed": 2**32 - 1,
                "lr": 100.0, "step_time_s": 60.0}


def training_errors(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with training `settings` (a topology's `training`, or a job's overrides):
    (key, message) pairs, none when they are sound."""
    defaults = TrainingSettings()
    out: list[tuple[str, str]] = []
    for key, value in settings.items():
        if key not in TRAINING_KEYS:
            out.append((key, f"unknown training setting `{key}`; settings: {', '.join(TRAINING_KEYS)}"))
            continue
        want = type(getattr(defaults, key))
        ok = isinstance(value, want) or (want is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            out.append((key, f"`{key}` must be {want.__name__}, got {value!r}"))
            continue
        if key == "checkpoint_write_errors" and value not in CHECKPOINT_WRITE_ERRORS:
            out.append((key, f"`checkpoint_write_errors` is {' or '.join(CHECKPOINT_WRITE_ERRORS)}, got {value!r}"))
        elif key in ("steps", "batch_size", "checkpoint_every", "min_nodes") and value < 1:
            out.append((key, f"`{key}` must be >= 1, got {value!r}"))
        elif key in ("keep_checkpoints", "nodes", "seed") and value < 0:
            out.append((key, f"`{key}` must be >= 0, got {value!r}"))
        elif key in ("lr", "step_time_s") and not 0 <= value < float("inf"):
            out.append((key, f"`{key}` must be a finite number >= 0, got {value!r}"))
        elif key in TRAINING_MAX and value > TRAINING_MAX[key]:
            out.append((key, f"`{key}` must be at most {TRAINING_MAX[key]}, got {value!r}"))
    return out


def _count(doc: LocatedYaml, root: dict, key: str, default: int, *, minimum: int) -> int:
    value = root.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise doc.error(f"`{key}` must be a whole number >= {minimum}, got {value!r}", key)
    return value


def _section(doc: LocatedYaml, root: dict, key: str, allowed: tuple[str, ...], defaults: Any) -> dict:
    value = root.get(key) or {}
    if not isinstance(value, dict):
        raise doc.error(f"`{key}` must be a mapping", key)
    doc.known_keys(value, allowed, (key,))
    out = {}
    for k, v in value.items():
        default = getattr(defaults, k)
        if isinstance(default, (int, float, str)) and not isinstance(default, bool):
            want = type(default)
            if want is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if not isinstance(v, want) or isinstance(v, bool):
                raise doc.error(f"`{key}.{k}` must be {want.__name__}, got {v!r}", key, k)
        out[k] = v
    return out
