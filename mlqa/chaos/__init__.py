"""Chaos experiments: kill zones, nodes and GPUs (and slow or cut the network) on purpose
while steady-state probes measure what survived, roll every fault back on every way out,
and judge the run by thresholds — a `CheckResult` (`chaos.experiment[NAME]`) in the same
session, gate and reports as every other check.

- `load_experiment(path)`: an experiment file -> `Experiment` (ConfigError with file:line)
- `run_experiment(exp, ...)`: run it, return its result
- `plan_experiment(exp)`: what it would do, resolved against the live target
- `recover()`: revert what a dead runner left (from the journals)
- `FAULTS`, `PROBES`, `FIGURES`: what an experiment file may name
"""
from ._api import plan_experiment, recover, result_id, run_experiment
from ._catalogue import FAULTS, FIGURES, PROBES
from ._check import experiment
from ._cli import add_parser
from ._journal import ChaosError
from ._spec import Experiment, load_experiment

__all__ = ["FAULTS", "FIGURES", "PROBES", "ChaosError", "Experiment", "add_parser", "experiment",
           "load_experiment", "plan_experiment", "recover", "result_id", "run_experiment"]
