"""An experiment file -> frozen dataclasses, validated like mlqa.yaml: every error names the
file and line, unknown names get the nearest known one, and nothing runs before the whole
file is valid.

    version: 1
    name: zone_outage
    claim: Losing a zone under load loses almost no request.
    target: {stack: local, topology: null}
    steady_state:
      - load: {rate: 40/s, slo: ["error_rate < 1%", "p99 < 1s"]}
    method:
      - fault: zone-outage
        select: {zone: zone-a}
        at: 2s
        duration: 8s
    stop_conditions: ["success_rate < 50% for 3s"]
    verdict: ["availability >= 99%", "time_to_detect <= 1s", "time_to_recover <= 30s"]
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MlqaError, did_you_mean
from ..units import parse_duration, parse_rate
from ..yamldoc import LocatedYaml, load_yaml
from ._catalogue import FAULTS, FIGURES, LIVE, PROBES, Param
from ._expr import Comparison, ExprError, StopCondition, parse_stop, parse_verdict

TOP_KEYS = ("version", "name", "title", "claim", "target", "steady_state", "method", "stop_conditions",
            "verdict", "allow_total_outage", "timing", "seed")
TIMING_KEYS = ("steady", "before_timeout", "recover_timeout", "after")
FAULT_KEYS = ("fault", "select", "at", "at_step", "duration")
NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")
#: faults a `processes` target supports (there are no zones, GPUs or volumes there)
PROCESS_FAULTS = ("process-kill", "node-pause", "cpu-stress")


@dataclass(frozen=True)
class ProcessRef:
    """A local process named by the experiment: by pid, pid file, or the port it listens on."""

    name: str
    pid: int | None = None
    pid_file: Path | None = None
    port: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Target:
    kind: str                           # "stack" | "processes"
    topology: Path | None = None        # stack: the topology to bring up (None: the embedded default)
    state_dir: Path | None = None       # stack: attach to the one running there (None: bring one up)
    processes: tuple[ProcessRef, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class ProbeSpec:
    kind: str
    name: str
    params: dict[str, Any]
    line: int | None = None


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    select: dict[str, Any]
    params: dict[str, Any]
    at: float
    at_step: int | None
    duration: float
    index: int
    line: int | None = None

    @property
    def label(self) -> str:
        sel = ", ".join(f"{k}={v}" for k, v in self.select.items() if k not in ("count", "pick"))
        return f"{self.kind}({sel})" if sel else self.kind


@dataclass(frozen=True)
class Timing:
    steady: float = 3.0             # seconds of steady state measured before the method
    before_timeout: float = 30.0    # how long to wait for the steady state to hold before
    recover_timeout: float = 60.0   # how long to wait for it to hold again after the last reverse
    after: float = 3.0              # seconds measured once it holds again


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    claim: str
    target: Target
    steady_state: tuple[ProbeSpec, ...]
    method: tuple[FaultSpec, ...]
    stop_conditions: tuple[StopCondition, ...]
    verdict: tuple[Comparison, ...]
    allow_total_outage: bool = False
    timing: Timing = field(default_factory=Timing)
    seed: int = 0
    path: Path | None = None
    doc: LocatedYaml | None = field(default=None, compare=False, repr=False)

    def probe(self, kind: str) -> ProbeSpec | None:
        return next((p for p in self.steady_state if p.kind == kind), None)

    def error(self, message: str, *path: Any, hint: str | None = None) -> ConfigError:
        """A ConfigError at `path` of the file (for problems found later: a selector that
        matches nothing in the live topology)."""
        if self.doc is None:
            return ConfigError(message, hint=hint)
        return self.doc.error(message, *path, hint=hint)

    @property
    def length_s(self) -> float:
        """When the last timed fault ends, from the method's start."""
        return max((f.at + f.duration for f in self.method if f.at_step is None), default=0.0)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file (ConfigError with file:line when it is wrong)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MlqaError(f"{p}: no such experiment file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MlqaError(f"{p}: cannot read it ({exc})") from None
    return parse_experiment(load_yaml(text, p), base=p.resolve().parent, default_name=p.stem)


#: the longest duration anywhere in an experiment (a fault, a timeout, a window)
MAX_DURATION_S = 7 * 24 * 3600.0
#: the largest pid Linux hands out (kernel.pid_max's ceiling)
MAX_PID = 4_194_304
#: the highest load rate a probe may ask for
MAX_RATE = 100_000.0


def parse_experiment(doc: LocatedYaml, *, base: Path, default_name: str = "experiment") -> Experiment:
    root = doc.data
    if not isinstance(root, dict):
        raise doc.error("an experiment is a mapping: target, steady_state, method, verdict, ...")
    doc.known_keys(root, TOP_KEYS)
    version = root.get("version", 1)
    if type(version) is not int or version != 1:
        raise doc.error(f"`version` must be 1, got {version!r}", "version")
    name = root.get("name", default_name.replace("-", "_").lower())
    if not isinstance(name, str) or not NAME.match(name):
        raise doc.error(f"`name` must be lower case letters, digits and _ (it becomes the check "
                        f"chaos.experiment[{name}]), got {name!r}", "name")
    for key in ("title", "claim"):
        if key in root and not isinstance(root[key], str):
            raise doc.error(f"`{key}` must be text", key)
    allow = root.get("allow_total_outage", False)
    if not isinstance(allow, bool):
        raise doc.error("`allow_total_outage` is true or false", "allow_total_outage")
    seed = root.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise doc.error("`seed` must be a whole number", "seed")
    target = _target(doc, root.get("target"), base)
    probes = _probes(doc, root.get("steady_state"))
    method = _method(doc, root.get("method"), target, probes)
    stops = _stops(doc, root.get("stop_conditions", []), probes, target)
    verdict = _verdict(doc, root.get("verdict"), probes)
    return Experiment(name=name, title=root.get("title", name.replace("_", " ")), claim=root.get("claim", ""),
                      target=target, steady_state=probes, method=method, stop_conditions=stops, verdict=verdict,
                      allow_total_outage=allow, timing=_timing(doc, root.get("timing")), seed=seed,
                      path=Path(doc.file), doc=doc)


def _target(doc: LocatedYaml, value: Any, base: Path) -> Target:
    if value is None:
        raise doc.error("`target` is missing: `{stack: local}` (the reference stack) or "
                        "`{processes: {NAME: {pid_file: FILE}}}`")
    value = doc.mapping(value, ("target",), "stack: local, or processes: {...}")
    doc.known_keys(value, ("stack", "topology", "state_dir", "processes"), ("target",))
    line = doc.line("target")
    if "processes" in value:
        if "stack" in value:
            raise doc.error("a target is either the stack or processes, not both", "target")
        procs = doc.mapping(value["processes"], ("target", "processes"), "NAME: {pid|pid_file|port|url}")
        if not procs:
            raise doc.error("`target.processes` names no process", "target", "processes")
        refs = []
        for pname, ref in procs.items():
            path = ("target", "processes", pname)
            ref = doc.mapping(ref, path, "pid, pid_file, port or url")
            doc.known_keys(ref, ("pid", "pid_file", "port", "url"), path)
            if not any(k in ref for k in ("pid", "pid_file", "port")):
                raise doc.error(f"process `{pname}` needs a pid, pid_file or port", *path)
            for k, top in (("pid", MAX_PID), ("port", 65535)):
                if k in ref and (not isinstance(ref[k], int) or isinstance(ref[k], bool) or not 0 < ref[k] <= top):
                    raise doc.error(f"`{k}` must be a whole number from 1 to {top}, got {ref[k]!r}", *path, k)
            for k in ("pid_file", "url"):
                if k in ref and not (isinstance(ref[k], str) and ref[k].strip() and "\0" not in ref[k]):
                    raise doc.error(f"`{k}` must be non-empty text", *path, k)
            refs.append(ProcessRef(name=str(pname), pid=ref.get("pid"), port=ref.get("port"), url=ref.get("url"),
                                   pid_file=(base / ref["pid_file"]) if ref.get("pid_file") else None))
        return Target(kind="processes", processes=tuple(refs), line=line)
    if value.get("stack", "local") != "local":
        raise doc.error(f"`target.stack` must be `local` (the reference stack on this machine), got "
                        f"{value.get('stack')!r}", "target", "stack",
                        hint="Kubernetes (Chaos Mesh) is a later backend")
    topology = value.get("topology")
    if topology is not None:
        if not isinstance(topology, str):
            raise doc.error("`target.topology` is the path of a topology YAML", "target", "topology")
        topology = (base / topology).resolve()
        if not topology.is_file():
            raise doc.error(f"topology {topology} does not exist", "target", "topology")
    state_dir = value.get("state_dir")
    if state_dir is not None and not isinstance(state_dir, str):
        raise doc.error("`target.state_dir` is the folder of a running stack", "target", "state_dir")
    return Target(kind="stack", topology=topology, line=line,
                  state_dir=(base / state_dir).resolve() if state_dir else None)


def _coerce(doc: LocatedYaml, p: Param, value: Any, path: tuple) -> Any:
    where = ".".join(str(x) for x in path)
    if p.kind in ("duration", "rate") and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
        raise doc.error(f"`{where}` must be a {p.kind} like {'40/s' if p.kind == 'rate' else '2s or 500ms'}, "
                        f"got {value!r}", *path)
    try:
        if p.kind == "duration":
            v = parse_duration(value)
            if not math.isfinite(v) or v < 0:
                raise MlqaError(f"`{where}` must be a finite duration >= 0, got {value!r}")
            if p.positive and v == 0:
                raise MlqaError(f"`{where}` must be above zero, got {value!r}")
            if v > MAX_DURATION_S:
                raise MlqaError(f"`{where}` is at most 7d, got {value!r}")
            return v
        if p.kind == "rate":
            v = parse_rate(value)
            if not (math.isfinite(v) and v > 0):
                raise MlqaError(f"`{where}` must be a finite rate above zero, got {value!r}")
            if v > MAX_RATE:
                raise MlqaError(f"`{where}` is at most {MAX_RATE:g}/s, got {value!r}")
            return v
        if p.kind == "percent":
            if isinstance(value, str) and value.strip().endswith("%"):
                v = float(value.strip()[:-1]) / 100
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                v = float(value)
            else:
                raise MlqaError(f"`{where}` is a percentage like 30%, got {value!r}")
            if not 0 < v <= 1:
                raise MlqaError(f"`{where}` must be above 0% and at most 100%, got {value!r}")
            return v
    except (MlqaError, ValueError) as exc:
        raise doc.error(str(exc).replace(f"duration {value!r}", f"`{where}` ({value!r})"), *path) from None
    checks = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
              "list": lambda v: isinstance(v, list), "map": lambda v: isinstance(v, dict), "any": lambda v: True}
    if not checks[p.kind](value):
        raise doc.error(f"`{where}` must be {p.kind}, got {value!r}", *path)
    if p.kind in ("int", "number"):
        if not math.isfinite(value):
            raise doc.error(f"`{where}` must be a finite number, got {value!r}", *path)
        if p.kind == "int" and value < 0:
            raise doc.error(f"`{where}` must not be negative, got {value!r}", *path)
        if p.positive and not value > 0:
            raise doc.error(f"`{where}` must be above zero, got {value!r}", *path)
        if p.maximum is not None and value > p.maximum:
            raise doc.error(f"`{where}` is at most {p.maximum:g}, got {value!r}", *path)
    return value


def _params(doc: LocatedYaml, spec: tuple[Param, ...], raw: dict, path: tuple) -> dict[str, Any]:
    out = {}
    for p in spec:
        if p.name in raw:
            out[p.name] = _coerce(doc, p, raw[p.name], (*path, p.name))
        elif p.required:
            raise doc.error(f"`{'.'.join(map(str, path))}` needs `{p.name}` ({p.doc})", *path)
        else:
            out[p.name] = p.default
    return out


def _probes(doc: LocatedYaml, value: Any) -> tuple[ProbeSpec, ...]:
    if value is None:
        raise doc.error("`steady_state` is missing: the probes that say the system is healthy "
                        "(load, training, http, prometheus, command)")
    if not isinstance(value, list) or not value:
        raise doc.error("`steady_state` is a non-empty list of probes like `- load: {rate: 40/s}`", "steady_state")
    out: list[ProbeSpec] = []
    for i, entry in enumerate(value):
        path = ("steady_state", i)
        if not isinstance(entry, dict) or len(entry) != 1:
            raise doc.error("each probe is `- KIND: {params}`", *path)
        (kind, raw), = entry.items()
        if kind not in PROBES:
            hint = did_you_mean(str(kind), PROBES)
            raise doc.error(f"unknown probe `{kind}`", *path, kind, hint=hint or f"probes: {', '.join(PROBES)}")
        raw = {} if raw is None else doc.mapping(raw, (*path, kind), "its parameters")
        allowed = tuple(p.name for p in PROBES[kind].params) + ("name",)
        doc.known_keys(raw, allowed, (*path, kind))
        params = _params(doc, PROBES[kind].params, raw, (*path, kind))
        if kind in ("load", "training") and any(p.kind == kind for p in out):
            raise doc.error(f"one `{kind}` probe per experiment", *path)
        if kind == "load":
            for s in params["slo"]:
                if not isinstance(s, str):
                    raise doc.error(f"an SLO is a string like `p99 < 1s`, got {s!r}", *path, kind, "slo")
                try:
                    from ..loadgen import parse_slo
                    parse_slo(s)
                except ValueError as exc:
                    raise doc.error(str(exc), *path, kind, "slo") from None
        if kind == "load" and params.get("url") and not params.get("body"):
            raise doc.error("a load probe with its own `url` needs `body`: the request to send", *path, kind)
        if kind == "load" and params["protocol"] not in ("oip-v2", "json"):
            raise doc.error("`protocol` is `oip-v2` or `json`", *path, kind, "protocol")
        if kind == "training":
            from ..stack import TRAINING_SETTINGS, training_errors
            settings = doc.mapping(params["settings"], (*path, kind, "settings"), "training settings")
            for key, message in training_errors(settings):
                hint = did_you_mean(str(key), TRAINING_SETTINGS) if "unknown" in message else None
                raise doc.error(message, *path, kind, "settings", *((key,) if key in settings else ()), hint=hint)
        if kind == "prometheus":
            from ._prom import PromError, parse_expr
            try:
                parse_expr(params["expr"])
            except PromError as exc:
                raise doc.error(str(exc), *path, kind, "expr") from None
        if kind == "command" and not (params["run"] and all(isinstance(a, str) for a in params["run"])):
            raise doc.error("`run` is a non-empty list of strings (argv, no shell)", *path, kind, "run")
        if kind == "command" and params.get("stdout") is not None:
            try:
                re.compile(params["stdout"])
            except re.error as exc:
                raise doc.error(f"`stdout` is not a regular expression: {exc}", *path, kind, "stdout") from None
        pname = raw.get("name", f"{kind}" if not any(p.kind == kind for p in out) else f"{kind}_{i}")
        if not isinstance(pname, str) or not NAME.match(pname):
            raise doc.error("a probe's `name` is lower case letters, digits and _", *path, kind, "name")
        if any(p.name == pname for p in out):
            raise doc.error(f"two probes are named `{pname}`: give each a `name` of its own", *path, kind)
        out.append(ProbeSpec(kind=kind, name=pname, params=params, line=doc.line(*path)))
    return tuple(out)


def _method(doc: LocatedYaml, value: Any, target: Target, probes: tuple[ProbeSpec, ...]) -> tuple[FaultSpec, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error("`method` is a non-empty list of faults like `- fault: zone-outage`", "method")
    out = []
    for i, entry in enumerate(value):
        path = ("method", i)
        entry = doc.mapping(entry, path, "fault, select, at, duration")
        kind = entry.get("fault")
        if not isinstance(kind, str) or kind not in FAULTS:
            hint = did_you_mean(str(kind), FAULTS)
            raise doc.error(f"unknown fault `{kind}`" if kind is not None else "each step of `method` needs `fault:`",
                            *path, *(("fault",) if kind is not None else ()),
                            hint=hint or f"faults: {', '.join(FAULTS)}")
        fk = FAULTS[kind]
        if target.kind == "processes" and kind not in PROCESS_FAULTS:
            raise doc.error(f"`{kind}` needs the reference stack; a processes target supports "
                            f"{', '.join(PROCESS_FAULTS)}", *path, "fault")
        doc.known_keys(entry, FAULT_KEYS + tuple(p.name for p in fk.params), path)
        select = doc.mapping(entry.get("select", {}), (*path, "select"), f"{', '.join(fk.select)}")
        doc.known_keys(select, fk.select, (*path, "select"))
        select = _selector(doc, kind, dict(select), (*path, "select"))
        params = _params(doc, fk.params, entry, path)
        if "at" in entry and "at_step" in entry:
            raise doc.error("give `at` (seconds into the method) or `at_step` (a training step), not both", *path)
        at = _coerce(doc, Param("at", "duration"), entry.get("at", 0), (*path, "at"))
        at_step = entry.get("at_step")
        if at_step is not None:
            if not isinstance(at_step, int) or isinstance(at_step, bool) or at_step < 0:
                raise doc.error("`at_step` is a training step (a whole number >= 0)", *path, "at_step")
            training = next((p for p in probes if p.kind == "training"), None)
            if training is None:
                raise doc.error("`at_step` needs a `training` probe in steady_state", *path, "at_step")
            steps = training.params["settings"].get("steps")
            if isinstance(steps, int) and at_step >= steps:
                raise doc.error(f"`at_step: {at_step}` is never reached: the job runs {steps} steps", *path, "at_step")
        if "duration" not in entry:
            raise doc.error(f"`method[{i}]` needs `duration`: how long the fault lasts before its reverse "
                            f"({fk.reverse})", *path)
        duration = _coerce(doc, Param("duration", "duration"), entry["duration"], (*path, "duration"))
        if duration <= 0:
            raise doc.error("`duration` must be above zero", *path, "duration")
        out.append(FaultSpec(kind=kind, select=select, params=params, at=at, at_step=at_step, duration=duration,
                             index=i, line=doc.line(*path)))
    return tuple(out)


def _selector(doc: LocatedYaml, kind: str, select: dict, path: tuple) -> dict:
    fk = FAULTS[kind]
    primary = [k for k in fk.select if k not in ("count", "pick", "gpu")]
    if kind == "disk-fill":
        select.setdefault("volume", "checkpoints")
    if kind == "gpu-fault":
        select.setdefault("gpu", 0)
        if not isinstance(select["gpu"], int) or isinstance(select["gpu"], bool) or select["gpu"] < 0:
            raise doc.error("`gpu` is a GPU index (a whole number >= 0)", *path, "gpu")
    if not any(k in select for k in primary):
        raise doc.error(f"`{kind}` needs a selector: `select: {{{primary[0]}: NAME}}`"
                        + (f" (or {', '.join(primary[1:])})" if len(primary) > 1 else ""), *path[:-1])
    for k in primary:
        if k in select and (not isinstance(select[k], str) or not select[k].strip()):
            raise doc.error(f"`select.{k}` is a name (or a glob, or `random`)", *path, k)
    if "count" in select and (not isinstance(select["count"], int) or isinstance(select["count"], bool)
                              or select["count"] < 1):
        raise doc.error("`select.count` is a whole number >= 1", *path, "count")
    if select.get("pick", "first") not in ("first", "random"):
        raise doc.error("`select.pick` is `first` or `random`", *path, "pick")
    return select


def _stops(doc: LocatedYaml, value: Any, probes: tuple[ProbeSpec, ...], target: Target) -> tuple[StopCondition, ...]:
    if not isinstance(value, list):
        raise doc.error("`stop_conditions` is a list like [\"success_rate < 90% for 5s\"]", "stop_conditions")
    out = []
    for i, text in enumerate(value):
        try:
            cond = parse_stop(text)
        except (ExprError, MlqaError) as exc:
            raise doc.error(str(exc), "stop_conditions", i) from None
        need = LIVE[cond.comparison.name][1]
        if need and not any(p.kind == need for p in probes):
            raise doc.error(f"`{cond.comparison.name}` is measured by a `{need}` probe, and steady_state has none",
                            "stop_conditions", i)
        if cond.comparison.name == "healthy_replicas" and target.kind != "stack":
            raise doc.error("`healthy_replicas` is the stack gateway's view; a processes target has no gateway, "
                            "so this stop could never fire", "stop_conditions", i)
        out.append(cond)
    return tuple(out)


def _verdict(doc: LocatedYaml, value: Any, probes: tuple[ProbeSpec, ...]) -> tuple[Comparison, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error("`verdict` is a non-empty list of thresholds like [\"availability >= 99.9%\"]: an "
                        "experiment without one proves nothing", "verdict")
    out = []
    for i, text in enumerate(value):
        try:
            comparison = parse_verdict(text)
        except ExprError as exc:
            raise doc.error(str(exc), "verdict", i) from None
        for name in filter(None, (comparison.name, comparison.other)):
            need = FIGURES[name].probe
            if need and not any(p.kind == need for p in probes):
                raise doc.error(f"`{name}` is measured by a `{need}` probe, and steady_state has none",
                                "verdict", i, hint=f"add `- {need}: {{...}}` to steady_state")
        out.append(comparison)
    return tuple(out)


def _timing(doc: LocatedYaml, value: Any) -> Timing:
    if value is None:
        return Timing()
    value = doc.mapping(value, ("timing",), "steady, before_timeout, recover_timeout, after")
    doc.known_keys(value, TIMING_KEYS, ("timing",))
    got = {k: _coerce(doc, Param(k, "duration"), v, ("timing", k)) for k, v in value.items()}
    if got.get("steady", 1) <= 0:
        raise doc.error("`timing.steady` must be above zero", "timing", "steady")
    return Timing(**got)
