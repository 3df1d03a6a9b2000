"""What an experiment file may name: the faults (with their selector keys, parameters and
reverses), the steady-state probes (with their parameters), and the figures a verdict
judges (with their units). `mlqa chaos list` prints this table; the parser validates
against it, so a name is known in one place."""
from __future__ import annotations

from dataclasses import dataclass

#: how long a cancelled run may take to roll back and take its stack down
ROLLBACK_GRACE_S = 60.0


@dataclass(frozen=True)
class Param:
    name: str
    kind: str            # duration | percent | int | str | list | map | rate | bool | number
    default: object = None
    required: bool = False
    doc: str = ""
    #: a duration, rate or number that must be above zero (a window, an interval, a timeout)
    positive: bool = False
    #: the largest value accepted (an int or number)
    maximum: float | None = None


@dataclass(frozen=True)
class FaultKind:
    name: str
    #: the selector keys it accepts; the first is what it acts on
    select: tuple[str, ...]
    params: tuple[Param, ...]
    doc: str
    reverse: str
    #: what it takes out of the serving/training path, for the blast-radius guard:
    #: "node" (the selected nodes), "zone" (every node of the zone), "zone-network", or ""
    takes_out: str = ""


@dataclass(frozen=True)
class ProbeKind:
    name: str
    params: tuple[Param, ...]
    doc: str


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str            # s | ms | fraction | ratio | count | bool | steps
    probe: str           # the probe kind that measures it ("" : the engine itself)
    doc: str


_PICK = (Param("count", "int", None, doc="how many of the matches (default: all of them)", positive=True),
         Param("pick", "str", "first", doc="`first` (sorted by name) or `random` (seeded by the experiment)"))

FAULTS: dict[str, FaultKind] = {f.name: f for f in (
    FaultKind("zone-outage", ("zone",), (), "kill every process of every node of a zone (replicas, training "
              "agents): the zone is gone", "restart the zone's nodes", takes_out="zone"),
    FaultKind("node-kill", ("node", "zone") + tuple(p.name for p in _PICK), (),
              "SIGKILL every process of the selected nodes (the whole process tree)", "restart the nodes",
              takes_out="node"),
    FaultKind("node-pause", ("node", "zone") + tuple(p.name for p in _PICK), (),
              "SIGSTOP every process of the selected nodes: a hung node that still holds its sockets, which "
              "only a health check's timeout catches", "SIGCONT them", takes_out="node"),
    FaultKind("gpu-fault", ("node", "gpu"), (Param("xid", "int", 79, doc="the NVIDIA XID: 79 fallen off the bus, "
                                                     "48 double-bit ECC, 94 contained ECC, ..."),),
              "mark one simulated GPU failed with an XID error; the training worker on it dies", "heal the GPU"),
    FaultKind("network-delay", ("zone",), (Param("latency", "duration", required=True,
                                                 doc="added to every request from the gateway to the zone"),),
              "add latency between the gateway and a zone", "remove it"),
    FaultKind("network-loss", ("zone",), (Param("loss", "percent", required=True,
                                                doc="share of requests to the zone that vanish (answered by "
                                                    "the gateway's timeout)"),),
              "drop a share of the traffic between the gateway and a zone", "stop dropping",
              takes_out=""),
    FaultKind("network-partition", ("zone",), (), "drop all traffic between the gateway and a zone",
              "heal the partition", takes_out="zone-network"),
    FaultKind("process-kill", ("component",) + tuple(p.name for p in _PICK), (),
              "SIGKILL one named component and its process tree: `gateway`, `<node>/replica-<i>`, "
              "`<node>/training-agent`, `rendezvous` (the training job's store; globs allowed); the stack "
              "restarts it as a kubelet would",
              "none needed: wait for the restart"),
    FaultKind("cpu-stress", ("node", "zone") + tuple(p.name for p in _PICK),
              (Param("cpus", "int", 1, doc="busy processes started on the node (1 to 64)", positive=True, maximum=64),),
              "burn CPU on the selected nodes", "stop the busy processes"),
    FaultKind("disk-fill", ("volume",), (),
              "fill a volume (`checkpoints`): every write to it fails with ENOSPC", "free it"),
)}

LOAD_PARAMS = (
    Param("rate", "rate", required=True, doc="open-model arrival rate through the gateway, e.g. 40/s"),
    Param("slo", "list", ["error_rate < 1%", "p99 < 1s"],
          doc="k6-style thresholds the steady state must meet in each window"),
    Param("window", "duration", 2.0, positive=True, doc="the sliding window the SLOs are judged over"),
    Param("timeout", "duration", 5.0, positive=True,
          doc="a request's client timeout (an unanswered one counts as failed)"),
    Param("url", "str", None, doc="base URL (default: the stack's gateway)"),
    Param("protocol", "str", "oip-v2", doc="with url: `oip-v2` (POST /v2/models/MODEL/infer) or `json` "
                                           "(POST /predict)"),
    Param("model", "str", "model", doc="with url: the model name in OIP v2 routes"),
    Param("body", "map", None, doc="request body (default: a row of the stack model's training data; "
                                   "required with url)"),
    Param("token_env", "str", None, doc="variable holding the bearer token (default: the stack's token)"),
)

PROBES: dict[str, ProbeKind] = {p.name: p for p in (
    ProbeKind("load", LOAD_PARAMS, "open-loop traffic (locust, fixed schedule, latency from intended send "
              "time): success rate and p50/p99 per window, judged by k6-style SLOs"),
    ProbeKind("training", (Param("settings", "map", {}, doc="training settings for the job the probe starts "
                                                          "(steps, checkpoint_every, ...)"),
                           Param("timeout", "duration", 300.0, positive=True,
                                 doc="how long the job may take to finish"),
                           Param("min_progress", "duration", 30.0, positive=True,
                                 doc="steady state: the job must have made a step within this long")),
              "starts a training job on the stack and follows it: step, world size, restarts, steps redone, "
              "completion, checkpoint integrity"),
    ProbeKind("http", (Param("url", "str", required=True, doc="URL; `{gateway}` is the stack's gateway"),
                       Param("status", "int", 200, doc="expected status", positive=True, maximum=599),
                       Param("json_path", "str", None, doc="dotted path into the JSON answer"),
                       Param("equals", "any", None, doc="the value expected at json_path"),
                       Param("interval", "duration", 0.5, positive=True, doc="seconds between polls"),
                       Param("timeout", "duration", 2.0, positive=True, doc="a poll's timeout")),
              "polls a URL: status code and, optionally, a value in its JSON answer"),
    ProbeKind("prometheus", (Param("url", "str", required=True, doc="the /metrics URL; `{gateway}` allowed"),
                             Param("expr", "str", required=True,
                                   doc="`METRIC{label=\"v\"} OP N`, `rate(METRIC{...}[5s]) OP N`, "
                                       "`increase(...)`, `histogram_quantile(0.99, METRIC[5s]) OP N`"),
                             Param("interval", "duration", 1.0, positive=True, doc="seconds between scrapes")),
              "scrapes a Prometheus endpoint and evaluates a counter/gauge/histogram expression"),
    ProbeKind("command", (Param("run", "list", required=True, doc="argv (no shell)"),
                          Param("exit_code", "int", 0, doc="expected exit code"),
                          Param("stdout", "str", None, doc="a regular expression stdout must match"),
                          Param("interval", "duration", 2.0, positive=True, doc="seconds between runs"),
                          Param("timeout", "duration", 10.0, positive=True, doc="a run's timeout")),
              "runs a command: exit code and, optionally, its output"),
)}

FIGURES: dict[str, Figure] = {f.name: f for f in (
    Figure("availability", "fraction", "load", "requests answered without error / requests scheduled, in the "
           "fault window (a request never answered counts as failed)"),
    Figure("success_rate_steady", "fraction", "load", "the same over the steady window (the last `steady` "
           "seconds before the method started)"),
    Figure("success_rate_after", "fraction", "load", "the same after recovery"),
    Figure("p50_steady", "ms", "load", "median latency over the steady window"),
    Figure("p99_steady", "ms", "load", "p99 latency over the steady window"),
    Figure("p50_fault", "ms", "load", "median latency in the fault window"),
    Figure("p99_fault", "ms", "load", "p99 latency in the fault window"),
    Figure("p50_after", "ms", "load", "median latency after recovery"),
    Figure("p99_after", "ms", "load", "p99 latency after recovery"),
    Figure("p99_ratio", "ratio", "load", "p99_fault / p99_steady"),
    Figure("p50_ratio", "ratio", "load", "p50_fault / p50_steady"),
    Figure("requests_scheduled", "count", "load", "requests due in the fault window"),
    Figure("requests_lost", "count", "load", "requests of the fault window not answered successfully"),
    Figure("time_to_detect", "s", "", "for each fault the gateway must notice (zone outage, node kill or "
           "pause, partition): its injection -> the gateway had every replica it hit out of rotation, by the "
           "gateway's own clock; the slowest of them; infinite when one never was; not measured when no "
           "such fault was injected"),
    Figure("time_to_recover", "s", "", "last reverse -> every steady-state probe holds again; infinite when "
           "not within the recovery timeout"),
    Figure("training_completed", "bool", "training", "the job finished successfully"),
    Figure("training_steps_lost", "steps", "training", "steps redone after restarts (furthest step reached "
           "minus the checkpoint resumed from, summed)"),
    Figure("training_steps_lost_max", "steps", "training", "the most steps one restart redid (what a "
           "checkpoint interval bounds, however many restarts the faults caused)"),
    Figure("training_restarts", "count", "training", "times the job resumed after a failure"),
    Figure("world_size_min", "count", "training", "the smallest world size seen"),
    Figure("checkpoint_interval", "steps", "training", "the job's checkpoint_every"),
    Figure("checkpoint_integrity", "bool", "training", "no checkpoint was rejected as corrupt and the job ended "
           "with a valid one"),
    Figure("checkpoint_failures", "count", "training", "checkpoint writes that failed (a full disk)"),
    Figure("faults_injected", "count", "", "faults injected"),
    Figure("faults_reverted", "count", "", "faults reverted (must equal faults_injected)"),
    Figure("stopped", "bool", "", "a stop condition aborted the method"),
    Figure("probes_failed_after", "count", "", "steady-state probes (http, prometheus, command) with a "
           "failing sample after recovery; not measured when one has no sample then"),
)}

#: what a stop condition may watch, live, and the probe that feeds it
LIVE: dict[str, tuple[str, str]] = {
    "success_rate": ("fraction", "load"), "error_rate": ("fraction", "load"),
    "p50": ("ms", "load"), "p99": ("ms", "load"), "healthy_replicas": ("count", ""),
    "probes_failing": ("count", ""),
}
