"""The supervisor's device faults and the list of what is broken now: CPU stress on a
node, a full volume, a faulted GPU (an XID), and `faults()`, every fault active on the
stack read off its live state. A mixin of `Supervisor`, which owns the processes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..procs import descendants, pid_alive, signal_all
from ._fault_params import MAX_STRESS_CPUS, XID_RANGE
from ._store import write_json

XID_MEANING = {79: "GPU has fallen off the bus", 48: "double-bit ECC error", 94: "contained ECC error",
               13: "graphics engine exception", 31: "GPU memory page fault", 63: "ECC page retirement",
               64: "ECC page retirement failure", 74: "NVLink error", 92: "high single-bit ECC error rate",
               95: "uncontained ECC error"}
#: the volumes that can be filled; while `<state_dir>/volumes/<name>.full` exists, writes to it fail
VOLUMES = ("checkpoints",)
#: one CPU's worth of busy loop (the last argument names the node, for `ps`)
STRESS_CMD = [sys.executable, "-c", "while True: pass", "mlqa.stack.stress"]


class DeviceFaults:
    """CPU stress, volumes and GPUs of `Supervisor`, which sets these attributes and
    provides `_spawn` and `_event`."""

    dir: Path
    lock: threading.RLock
    stopping: threading.Event
    nodes: dict[str, dict[str, Any]]
    stress: dict[str, dict[str, Any]]       # node -> {"procs": [...], "since": epoch s}
    fault_since: dict[str, float]           # "gpu:<node>/gpu<i>", "network:<zone>" -> when

    # -- CPU stress ----------------------------------------------------------------------------
    def stress_node(self, name: str, cpus: int = 1) -> dict:
        """Start `cpus` busy loops on the node, tagged as its processes (a node kill or pause
        takes them too); replaces any stress already there."""
        if not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= MAX_STRESS_CPUS:
            raise ValueError(f"cpus is a whole number from 1 to {MAX_STRESS_CPUS}, got {cpus!r}")
        with self.lock:
            if self.nodes[name]["status"] == "down":
                raise RuntimeError(f"{name} is down: there is nothing to stress")
            reap(self.stress.pop(name, {}).get("procs", []))
            procs = [self._spawn([*STRESS_CMD, name], f"{name}-stress.log", name) for _ in range(cpus)]
            if self.nodes[name]["status"] == "paused":
                signal_all({p.pid for p in procs}, signal.SIGSTOP)
            self.stress[name] = {"procs": procs, "since": time.time()}
            self._event("stress_node", node=name, cpus=cpus)
            return {"node": name, "cpus": cpus, "pids": [p.pid for p in procs]}

    def unstress_node(self, name: str) -> dict:
        """Stop the node's busy loops (none there: nothing to do)."""
        with self.lock:
            pids = reap(self.stress.pop(name, {}).get("procs", []))
            if pids:
                self._event("unstress_node", node=name)
            return {"node": name, "stopped_pids": pids}

    # -- volumes -------------------------------------------------------------------------------
    def volume_marker(self, volume: str) -> Path:
        """The file whose presence makes `volume` full."""
        if volume not in VOLUMES:
            raise KeyError(f"no volume {volume!r}; volumes: {', '.join(VOLUMES)}")
        return self.dir / "volumes" / f"{volume}.full"

    def fill_volume(self, volume: str) -> dict:
        """From now on every write to `volume` fails with ENOSPC (until `unfill_volume`)."""
        with self.lock:
            marker = self.volume_marker(volume)
            if not marker.exists():
                write_json(marker, {"since": time.time()})
                self._event("fill_volume", volume=volume)
            return {"volume": volume, "full": True, "marker": str(marker)}

    def unfill_volume(self, volume: str) -> dict:
        with self.lock:
            marker = self.volume_marker(volume)
            if marker.exists():
                marker.unlink()
                self._event("unfill_volume", volume=volume)
            return {"volume": volume, "full": False, "marker": str(marker)}

    # -- GPUs --------------------------------------------------------------------------------
    def gpus_file(self, node: str) -> Path:
        return self.dir / "nodes" / node / "gpus.json"

    def _write_gpus(self, node: str, gpus: list[dict]) -> None:
        write_json(self.gpus_file(node), gpus)

    def gpus(self, node: str) -> list[dict]:
        return json.loads(self.gpus_file(node).read_text())

    def fault_gpu(self, node: str, index: int, xid: int) -> dict:
        if isinstance(xid, bool) or not isinstance(xid, int) or not XID_RANGE[0] <= xid <= XID_RANGE[1]:
            raise ValueError(f"xid is a whole number from {XID_RANGE[0]} to {XID_RANGE[1]}, got {xid!r}")
        with self.lock:
            gpus = self.gpus(node)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(gpus):
                raise KeyError(f"{node} has no GPU {index}")
            gpus[index].update(healthy=False, xid=xid, reason=XID_MEANING.get(xid, "GPU error"))
            self._write_gpus(node, gpus)
            self.fault_since[f"gpu:{node}/gpu{index}"] = time.time()
            self._event("fault_gpu", node=node, gpu=index, xid=xid)
            return gpus[index]

    def heal_gpu(self, node: str, index: int) -> dict:
        with self.lock:
            gpus = self.gpus(node)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(gpus):
                raise KeyError(f"{node} has no GPU {index}")
            gpus[index].update(healthy=True, xid=None, reason=None)
            self._write_gpus(node, gpus)
            self.fault_since.pop(f"gpu:{node}/gpu{index}", None)
            self._event("heal_gpu", node=node, gpu=index)
            return gpus[index]

    def faults(self, network: dict[str, dict]) -> list[dict]:
        """Every fault active now, read off the live state (`network`: the zones' network
        faults, as the supervisor recorded them): {kind, target, since, detail}. Empty when
        the stack is whole."""
        out: list[dict] = []

        def add(kind: str, target: str, since: float | None, **detail: Any) -> None:
            out.append({"kind": kind, "target": target, "since": since, "detail": detail})
        for name, st in self.nodes.items():
            if st["status"] == "down" and not self.stopping.is_set():
                add("node-down", name, st["since"], zone=st["zone"], restart_at=st["restart_at"])
            elif st["status"] == "paused":
                add("node-paused", name, st["since"], zone=st["zone"])
            for g in self.gpus(name):
                if not g["healthy"]:
                    target = f"{name}/gpu{g['index']}"
                    add("gpu-fault", target, self.fault_since.get(f"gpu:{target}"), xid=g["xid"], reason=g["reason"])
        for zone, f in sorted(network.items()):
            if f.get("latency_s") or f.get("drop"):
                add("network", zone, self.fault_since.get(f"network:{zone}"), latency_ms=f["latency_s"] * 1000,
                    drop=f["drop"])
        for name, entry in self.stress.items():
            live = [p.pid for p in entry["procs"] if p.poll() is None]
            if live:
                add("cpu-stress", name, entry["since"], cpus=len(live), pids=live)
        for volume in VOLUMES:
            marker = self.volume_marker(volume)
            if marker.exists():
                add("disk-full", volume, marker_since(marker), path=str(marker))
        return out


def reap(procs: list[subprocess.Popen], timeout: float = 5.0) -> list[int]:
    """SIGKILL each process and everything below it (a stopped one too), and wait (bounded)
    until every one is gone; returns the pids signalled."""
    pids = descendants([p.pid for p in procs if p.poll() is None])
    signal_all(pids, signal.SIGCONT)
    signal_all(pids, signal.SIGKILL)
    end = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
    while time.monotonic() < end and any(pid_alive(p) for p in pids):
        time.sleep(0.02)
    return sorted(pids)


def marker_since(marker: Path) -> float | None:
    try:
        return json.loads(marker.read_text())["since"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class NetworkFaults:
    """Zone network faults of `Supervisor`: set at the gateway, recorded here (the gateway
    keeps them only in memory) and re-applied to a gateway that restarted. `Supervisor`
    sets these attributes and provides `zone_nodes` and `_event`."""

    plan: dict[str, Any]
    secrets: dict[str, str]
    lock: threading.RLock
    net_lock: threading.Lock
    stopping: threading.Event
    network: dict[str, dict[str, float]]     # zone -> {"latency_s", "drop"}
    fault_since: dict[str, float]
    gateway: subprocess.Popen | None

    def gateway_call(self, method: str, path: str, body: dict | None = None) -> dict:
        from ..localhttp import local_request
        r = local_request(method, f"http://127.0.0.1:{self.plan['gateway_port']}{path}", json=body, timeout=2,
                          headers={"Authorization": f"Bearer {self.secrets['gateway']}"})
        return r.json()

    def degrade_zone(self, zone: str, body: dict) -> dict:
        """Set the zone's added latency / dropped share at the gateway (zeros heal it)."""
        import httpx
        self.zone_nodes(zone)
        with self.net_lock:          # the gateway and the record change together (see _reapply_network)
            try:
                result = self.gateway_call("PUT", f"/admin/zones/{zone}/network", body)
            except httpx.HTTPError as exc:
                raise RuntimeError(f"the gateway does not answer ({type(exc).__name__}): is it restarting?") \
                    from None
            if "error" in result:
                raise ValueError(result["error"])
            self._record_network(zone, result)
        return result

    def _record_network(self, zone: str, result: dict) -> None:
        with self.lock:
            if result.get("latency_s") or result.get("drop"):
                self.fault_since[f"network:{zone}"] = time.time()
                self.network[zone] = {"latency_s": result["latency_s"], "drop": result["drop"]}
                self._event("degrade_zone", zone=zone, latency_s=result["latency_s"], drop=result["drop"])
            else:
                self.network.pop(zone, None)
                if self.fault_since.pop(f"network:{zone}", None) is not None:
                    self._event("heal_zone", zone=zone)

    def _reapply_network(self, gateway: subprocess.Popen) -> None:
        """Give a restarted gateway the network faults it lost with its predecessor (bounded:
        until it answers, at most 60 s, or until another restart takes over)."""
        end = time.monotonic() + 60
        done: set[str] = set()
        while time.monotonic() < end and not self.stopping.is_set() and self.gateway is gateway:
            try:
                with self.lock:
                    zones = sorted(set(self.network) - done)
                for zone in zones:
                    # under net_lock, re-read: a heal that came first is never undone
                    with self.net_lock:
                        f = self.network.get(zone)
                        if f is not None:
                            self.gateway_call("PUT", f"/admin/zones/{zone}/network",
                                              {"latency_ms": f["latency_s"] * 1000, "drop": f["drop"]})
                    done.add(zone)
                if done:
                    self._event("network_faults_reapplied", zones=sorted(done))
                return
            except Exception:  # noqa: BLE001 - not listening yet: try again
                time.sleep(0.1)
