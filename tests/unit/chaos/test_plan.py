"""Plans resolved against the topology a run would bring up (no stack is started): targets,
selectors that match nothing, and the blast-radius guard."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlqa.chaos import FAULTS, FIGURES, PROBES, load_experiment, plan_experiment
from mlqa.cli import main
from mlqa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "chaos" / "experiments"

LOAD = """\
version: 1
name: plan_probe
{extra}target: {target}
steady_state:
  - {probe}
method:
{method}
verdict:
  - {verdict}
"""


def experiment(tmp_path: Path, method: str, *, target: str = "{stack: local}", extra: str = "",
               probe: str = "load: {rate: 40/s}", verdict: str = "availability >= 99%") -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(LOAD.format(method=method.rstrip("\n"), target=target, extra=extra, probe=probe,
                                verdict=verdict), encoding="utf-8")
    return path


def fault(kind: str, select: str, at: str = "1s", duration: str = "5s", extra: str = "") -> str:
    return f"  - fault: {kind}\n    select: {select}\n    at: {at}\n    duration: {duration}\n{extra}"


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def plan_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        plan_experiment(path)
    return err.value


def targets(plan: dict) -> list[list[str]]:
    return [f["targets"] for f in plan["faults"]]


@pytest.fixture
def one_zone(tmp_path: Path) -> str:
    (tmp_path / "one-zone.yaml").write_text("version: 1\nzones: [only]\nnodes_per_zone: 2\n")
    return "{stack: local, topology: one-zone.yaml}"


# ------------------------------------------------------------------ shipped files
@pytest.mark.parametrize(("name", "expected"), [
    ("zone-outage", [["zone-a"]]),
    ("node-kill", [["zone-a-node-1"]]),
    ("node-pause", [["zone-c-node-1"]]),
    ("network-partition", [["zone-b"]]),
    ("gpu-xid", [["zone-b-node-1/gpu0"]]),
    ("disk-full", [["checkpoints"]]),
    ("replica-kill", [["zone-a-node-1/replica-1"], ["zone-b-node-1/replica-1"], ["zone-c-node-1/replica-1"],
                      ["zone-a-node-2/replica-1"]]),
])
def test_shipped_plans_resolve_against_the_default_topology(name, expected):
    path = SHIPPED / f"{name}.yaml"
    plan = plan_experiment(path)
    assert targets(plan) == expected
    exp = load_experiment(path)
    assert plan["experiment"] == exp.name and plan["file"] == str(path)
    assert "embedded default topology" in plan["target"]
    assert plan["verdict"] == [c.text for c in exp.verdict]
    assert [f["fault"] for f in plan["faults"]] == [f.kind for f in exp.method]
    assert all(f["reverse"] == FAULTS[f["fault"]].reverse and f["line"] for f in plan["faults"])


def test_every_shipped_file_plans():
    for path in sorted(SHIPPED.glob("*.yaml")):
        assert plan_experiment(path)["faults"], path


def test_a_plan_describes_timing_and_parameters(tmp_path):
    path = experiment(tmp_path, fault("network-delay", "{zone: zone-b}", at="2s", duration="4s",
                                      extra="    latency: 250ms\n"))
    (f,) = plan_experiment(path)["faults"]
    assert f == {"fault": "network-delay", "targets": ["zone-b"], "line": line_of(path, "fault:"), "at": "2s",
                 "duration_s": 4.0, "reverse": FAULTS["network-delay"].reverse, "latency": 0.25}


def test_at_step_is_described_as_a_step(tmp_path):
    path = experiment(tmp_path, "  - {fault: node-kill, select: {node: zone-a-node-1}, at_step: 40, duration: 3s}",
                      probe="training: {settings: {steps: 100}}", verdict="training_completed == true")
    assert plan_experiment(path)["faults"][0]["at"] == "step 40"


def test_a_topology_file_is_resolved_next_to_the_experiment(tmp_path, one_zone):
    path = experiment(tmp_path, fault("node-kill", "{node: only-node-2}"), target=one_zone)
    plan = plan_experiment(path)
    assert targets(plan) == [["only-node-2"]] and str(tmp_path / "one-zone.yaml") in plan["target"]


# ------------------------------------------------------------------ selectors
def test_a_selector_that_matches_nothing_names_the_live_zones(tmp_path):
    path = experiment(tmp_path, fault("zone-outage", "{zone: zone-z}"))
    err = plan_error(path)
    assert str(err).startswith(f"{path}:{line_of(path, 'select:')}:"), str(err)
    assert "no zone `zone-z`" in str(err) and "zone-a, zone-b, zone-c" in str(err)


def test_a_near_miss_gets_a_did_you_mean(tmp_path):
    path = experiment(tmp_path, fault("node-kill", "{node: zone-a-nod-1}"))
    err = plan_error(path)
    assert err.line == line_of(path, "select:") and "did you mean `zone-a-node-1`?" in str(err)


def test_count_above_the_matches_is_refused(tmp_path):
    path = experiment(tmp_path, fault("node-kill", '{node: "zone-a-*", count: 5}'))
    err = plan_error(path)
    assert err.line == line_of(path, "select:")
    assert "`count: 5` but only 2 node(s) match" in str(err) and "zone-a-node-1, zone-a-node-2" in str(err)


def test_count_and_pick_limit_the_matches(tmp_path):
    path = experiment(tmp_path, fault("node-kill", "{zone: zone-b, count: 1}"))
    assert targets(plan_experiment(path)) == [["zone-b-node-1"]]
    path = experiment(tmp_path, fault("node-pause", "{zone: zone-c, count: 1, pick: random}"), extra="seed: 7\n")
    first = targets(plan_experiment(path))
    assert first[0][0] in ("zone-c-node-1", "zone-c-node-2")
    assert all(targets(plan_experiment(path)) == first for _ in range(3))       # seeded by the experiment


def test_a_glob_selects_every_match(tmp_path):
    path = experiment(tmp_path, fault("cpu-stress", '{node: "zone-?-node-2"}'))
    assert targets(plan_experiment(path)) == [["zone-a-node-2", "zone-b-node-2", "zone-c-node-2"]]


def test_a_gpu_the_node_does_not_have(tmp_path):
    path = experiment(tmp_path, fault("gpu-fault", "{node: zone-a-node-1, gpu: 7}"))
    err = plan_error(path)
    assert err.line == line_of(path, "select:") and "no GPU 7" in str(err)


def test_training_agents_exist_only_with_a_training_probe(tmp_path):
    method = fault("process-kill", '{component: "zone-a-*/training-agent"}')
    path = experiment(tmp_path, method, probe="training: {settings: {steps: 100}}",
                      verdict="training_completed == true")
    assert targets(plan_experiment(path)) == [["zone-a-node-1/training-agent", "zone-a-node-2/training-agent"]]
    path = experiment(tmp_path, method)
    assert "no component" in str(plan_error(path))


# ------------------------------------------------------------------ the blast-radius guard
def test_a_zone_outage_of_the_only_zone_is_a_total_outage(tmp_path, one_zone):
    path = experiment(tmp_path, fault("zone-outage", "{zone: only}"), target=one_zone)
    err = plan_error(path)
    assert str(err).startswith(f"{path}:{line_of(path, 'fault: zone-outage')}:"), str(err)
    assert "every zone (only)" in str(err) and "total outage" in str(err)
    assert err.hint and "allow_total_outage: true" in err.hint


def test_allow_total_outage_lets_it_through(tmp_path, one_zone):
    path = experiment(tmp_path, fault("zone-outage", "{zone: only}"), target=one_zone,
                      extra="allow_total_outage: true\n")
    plan = plan_experiment(path)
    assert targets(plan) == [["only"]] and plan["allow_total_outage"] is True


def test_a_network_partition_of_the_only_zone_is_refused_too(tmp_path, one_zone):
    path = experiment(tmp_path, fault("network-partition", "{zone: only}"), target=one_zone)
    assert "total outage" in str(plan_error(path))


def test_overlapping_zone_outages_that_cover_every_zone_are_refused(tmp_path):
    path = experiment(tmp_path, fault("zone-outage", '{zone: "zone-[ab]"}', at="0s", duration="10s")
                      + fault("zone-outage", "{zone: zone-c}", at="5s", duration="5s"))
    err = plan_error(path)
    assert err.line == line_of(path, "fault: zone-outage", nth=2), str(err)
    assert "every zone (zone-a, zone-b, zone-c)" in str(err) and "(from 5s)" in str(err)


def test_zone_outages_one_after_the_other_are_accepted(tmp_path):
    path = experiment(tmp_path, fault("zone-outage", '{zone: "zone-[ab]"}', at="0s", duration="5s")
                      + fault("zone-outage", "{zone: zone-c}", at="5s", duration="5s"))
    assert targets(plan_experiment(path)) == [["zone-a", "zone-b"], ["zone-c"]]


def test_a_zone_outage_with_a_partition_of_the_rest_is_refused(tmp_path):
    path = experiment(tmp_path, fault("zone-outage", "{zone: zone-a}", at="0s", duration="10s")
                      + fault("network-partition", '{zone: "zone-[bc]"}', at="1s", duration="2s"))
    assert "every zone" in str(plan_error(path))


def test_killing_every_node_is_refused(tmp_path):
    path = experiment(tmp_path, fault("node-kill", '{node: "*"}'))
    err = plan_error(path)
    assert err.line == line_of(path, "fault: node-kill") and "total outage" in str(err)


def test_killing_every_node_of_two_zones_is_not_a_total_outage(tmp_path):
    path = experiment(tmp_path, fault("node-kill", '{node: "zone-[ab]-*"}'))
    assert len(targets(plan_experiment(path))[0]) == 4


def test_nodes_killed_zone_by_zone_add_up(tmp_path):
    path = experiment(tmp_path, fault("node-kill", '{node: "zone-[ab]-*"}', at="0s", duration="10s")
                      + fault("node-pause", "{zone: zone-c}", at="2s", duration="2s"))
    assert "total outage" in str(plan_error(path))


def test_killing_the_gateway_is_refused(tmp_path):
    path = experiment(tmp_path, fault("process-kill", "{component: gateway}"))
    assert "takes down the gateway" in str(plan_error(path))


def test_killing_every_replica_process_is_refused(tmp_path):
    path = experiment(tmp_path, fault("process-kill", '{component: "*/replica-*"}'))
    assert "every serving replica" in str(plan_error(path))


def test_killing_every_training_node_under_a_training_probe_is_refused(tmp_path):
    topo = tmp_path / "split.yaml"
    topo.write_text("version: 1\nzones: [a, b]\nnodes_per_zone: 1\n")
    path = experiment(tmp_path, "  - {fault: node-kill, select: {node: '*'}, at_step: 10, duration: 3s}",
                      target="{stack: local, topology: split.yaml}", probe="training: {settings: {steps: 100}}",
                      verdict="training_completed == true")
    assert "total outage" in str(plan_error(path))


# ------------------------------------------------------------------ the CLI
def test_cli_dry_run_prints_the_plan(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["chaos", "run", "--dry-run", str(SHIPPED / "zone-outage.yaml")]) == 0
    out = capsys.readouterr().out
    assert "zone_outage" in out and "zone-outage" in out and "on zone-a for 6s" in out
    assert "restart the zone's nodes" in out and "(dry run: nothing injected)" in out
    assert "availability >= 99%" in out
    assert not (tmp_path / "mlqa-out").exists()


def test_cli_dry_run_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = [str(SHIPPED / "zone-outage.yaml"), str(SHIPPED / "replica-kill.yaml")]
    assert main(["chaos", "run", "--dry-run", "--json", *files]) == 0
    plans = json.loads(capsys.readouterr().out)
    assert [p["experiment"] for p in plans] == ["zone_outage", "gateway_replica_kill"]
    assert plans[1]["faults"][2]["targets"] == ["zone-c-node-1/replica-1"]


def test_cli_dry_run_of_a_plan_that_cannot_apply_is_exit_2(tmp_path, capsys):
    path = experiment(tmp_path, fault("zone-outage", "{zone: zone-z}"))
    assert main(["chaos", "run", "--dry-run", str(path)]) == 2
    assert f"{path}:{line_of(path, 'select:')}:" in capsys.readouterr().err


def test_cli_run_refuses_two_experiments_with_one_name(tmp_path, capsys):
    path = SHIPPED / "zone-outage.yaml"
    assert main(["chaos", "run", "--dry-run", str(path), str(path)]) == 2
    assert "named the same" in capsys.readouterr().err


def test_cli_list_mentions_every_fault_probe_and_figure(capsys):
    assert main(["chaos", "list"]) == 0
    out = capsys.readouterr().out
    for name in [*FAULTS, *PROBES, *FIGURES]:
        assert name in out, name


def test_cli_list_json(capsys):
    assert main(["chaos", "list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["faults"]) == set(FAULTS) and set(data["probes"]) == set(PROBES)
    assert set(data["figures"]) == set(FIGURES) and "success_rate" in data["stop_condition_measurements"]
    assert data["faults"]["network-delay"]["params"][0]["name"] == "latency"
    assert data["figures"]["availability"] == {"unit": "fraction", "probe": "load",
                                               "doc": FIGURES["availability"].doc}
