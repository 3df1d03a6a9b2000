"""The control plane: one supervisor that owns every node's processes.

    python -m mlqa.stack._supervisor STATE_DIR

It starts the gateway and, per node, the serving replicas (and the training agent while a
job runs); restarts a process that dies on its own; carries out faults (kill, pause a node
or a zone, kill one component, fault a GPU, degrade a zone's network, stress a node's CPUs,
fill the checkpoint volume) and their reverses; lists the faults active now, read off the
live state; restarts a killed node after `node_restart_delay_s` when the topology sets one
(cloud auto-repair); hosts the training rendezvous; writes `state.json`; and stops
everything on `/shutdown`, or when the process that owns it (a pytest session) is gone. Its
HTTP API listens on 127.0.0.1 and needs the admin token.

Lifecycle: every component is started on a lease (`mlqa.stack._lease`: Linux's
parent-death signal, armed for the spawner's long-lived thread, and a watch on its parent
everywhere), so none outlives the supervisor, even when it is SIGKILLed. The supervisor
itself stops everything and exits when the process that launched it goes before the stack
was ready (`--launcher-fd`: a pipe whose end `up` holds), and when the process that owns it
(a pytest session) is gone, even by SIGKILL (its pid and start time, never a pid alone).

Credentials: the admin token stays in this process (read from `secrets.json`). The gateway
gets the client token, the internal token it forwards with and a token of its own for its
`/admin` routes; replicas the client and internal tokens; training agents and workers, the
rendezvous and stress processes none.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..procs import ProcessId, ProcessTable, Spawner, descendants, signal_all
from ._admin import AdminServer, handler, stop_server
from ._faults import DeviceFaults, NetworkFaults, reap
from ._store import ModelStore, write_json

#: the internal token (gateway -> replicas) and the gateway's own admin token, as the
#: components read them from their environment
INTERNAL_TOKEN_ENV = "MLQA_STACK_INTERNAL_TOKEN"
GATEWAY_TOKEN_ENV = "MLQA_STACK_GATEWAY_TOKEN"


class Supervisor(DeviceFaults, NetworkFaults):
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.plan = json.loads((state_dir / "plan.json").read_text())
        self.secrets = json.loads((state_dir / "secrets.json").read_text())
        self.topology = self.plan["topology"]
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.procs: dict[str, list[subprocess.Popen]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.gateway: subprocess.Popen | None = None
        self.events: list[dict] = []
        self.stress: dict[str, dict[str, Any]] = {}     # node -> {"procs": [...], "since": epoch s}
        self.fault_since: dict[str, float] = {}         # "gpu:<node>/gpu<i>", "network:<zone>" -> when
        #: zone -> {"latency_s", "drop"} while degraded: the supervisor's record, which a
        #: restarted gateway is given again (a network fault outlives the gateway process)
        self.network: dict[str, dict[str, float]] = {}
        self.net_lock = threading.Lock()
        #: what every component's environment starts from: no MLQA_STACK_* variable of ours
        #: (this process's tag, a token the caller had exported), the stack's tag added
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith("MLQA_STACK_") and k != self.plan["token_env"]},
                    "MLQA_STACK_ID": self.plan["stack_id"]}
        self.spawner = Spawner()
        #: called (once) when the stack must stop on its own: its launcher or owner is gone
        self.on_orphaned = self.shutdown
        self.model_path = str(ModelStore(state_dir / "models").path(self.plan["model"]["digest"]))
        from ._training import TrainingJob
        self.training = TrainingJob(self)
        for node in self.topology["nodes"]:
            self.nodes[node["name"]] = {"zone": node["zone"], "status": "starting", "since": time.time(),
                                        "restart_at": None, "restarts": 0}
            self._write_gpus(node["name"], [{"index": i, "healthy": True, "xid": None, "reason": None}
                                            for i in range(node["gpus"])])

    # -- processes ---------------------------------------------------------------------------
    def credentials(self, role: str) -> dict[str, str]:
        """The tokens a component needs, as environment variables: the gateway checks clients'
        tokens, forwards with the internal one and guards its own /admin routes with a token of
        its own; a replica checks the client and internal tokens; nothing else gets any (the
        admin token never leaves the supervisor)."""
        if role == "gateway":
            return {self.plan["token_env"]: self.secrets["token"], INTERNAL_TOKEN_ENV: self.secrets["internal"],
                    GATEWAY_TOKEN_ENV: self.secrets["gateway"]}
        if role == "replica":
            return {self.plan["token_env"]: self.secrets["token"], INTERNAL_TOKEN_ENV: self.secrets["internal"]}
        return {}

    def _spawn(self, cmd: list[str], log: str, node: str | None = None, role: str = "") -> subprocess.Popen:
        """Start a component on a lease (it dies with the supervisor), from the spawner's
        thread, tagged with the stack's id (and its node's), with `role`'s credentials only."""
        env = {**self.env, **self.credentials(role)}
        if node:
            env.update(MLQA_STACK_NODE=node, MLQA_STACK_ZONE=self.nodes[node]["zone"])
        if len(cmd) > 2 and cmd[0] == sys.executable and cmd[1] in ("-m", "-c"):
            cmd = [cmd[0], "-m", "mlqa.stack._lease", *(cmd[2:] if cmd[1] == "-m" else cmd[1:])]
        out = open(self.dir / "logs" / log, "ab")
        try:
            return self.spawner.popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, cwd=self.dir)
        finally:
            out.close()

    def _replica_cmd(self, port: int) -> list[str]:
        m = self.plan["model"]
        cmd = [sys.executable, "-m", "mlqa.cli", "serve", self.model_path, "--port", str(port),
               "--token-env", self.plan["token_env"], "--unlimited-token-env", INTERNAL_TOKEN_ENV,
               "--rate-limit", "100000/s"]
        if m.get("data"):
            cmd += ["--data", m["data"]] + (["--label", m["label"]] if m.get("label") else [])
        for t in m.get("trusted") or ():
            cmd += ["--trusted", t]
        return cmd

    def start_node(self, name: str) -> None:
        with self.lock:
            ports = self.plan["replica_ports"][name]
            self.procs[name] = [self._spawn(self._replica_cmd(p), f"{name}-replica-{i + 1}.log", name, "replica")
                                for i, p in enumerate(ports)]
            self.nodes[name].update(status="up", since=time.time(), restart_at=None)
            self.training.node_started(name)

    def node_pids(self, name: str, table: ProcessTable | None = None) -> set[int]:
        """Every process of the node: the tree under what it started, and whatever carries
        its tag. `table`: a snapshot to reuse when asking for several nodes."""
        table = table or ProcessTable()
        roots = [p.pid for p in self.procs.get(name, []) if p.poll() is None]
        roots += self.training.agent_pids(name)
        return table.descendants(roots) | table.tagged(MLQA_STACK_ID=self.plan["stack_id"], MLQA_STACK_NODE=name)

    def kill_node(self, name: str, *, reason: str = "fault") -> list[int]:
        with self.lock:
            pids = sorted(self.node_pids(name))
            signal_all(set(pids), signal.SIGCONT)         # a paused process must die too
            signal_all(set(pids), signal.SIGKILL)
            for p in self.procs.pop(name, []):
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.training.node_killed(name)
            reap(self.stress.pop(name, {}).get("procs", []))
            delay = self.topology.get("node_restart_delay_s")
            self.nodes[name].update(status="down", since=time.time(),
                                    restart_at=None if delay is None or reason == "shutdown" else time.time() + delay)
            self._event("kill_node", node=name, pids=len(pids), reason=reason)
            return pids

    def restart_node(self, name: str) -> None:
        with self.lock:
            if self.nodes[name]["status"] == "paused":
                self.resume_node(name)
            if self.nodes[name]["status"] != "down":
                self.kill_node(name, reason="restart")
            self.nodes[name]["restarts"] += 1
            self.start_node(name)
            self._event("restart_node", node=name)

    def pause_node(self, name: str) -> None:
        """SIGSTOP every process of the node (a down node cannot be paused; pausing a paused
        one changes nothing)."""
        with self.lock:
            if self.nodes[name]["status"] == "down":
                raise RuntimeError(f"{name} is down: there is nothing to pause")
            signal_all(self.node_pids(name), signal.SIGSTOP)
            if self.nodes[name]["status"] != "paused":
                self.nodes[name].update(status="paused", since=time.time())
                self._event("pause_node", node=name)

    def resume_node(self, name: str) -> None:
        """SIGCONT the node's processes; a node that is not paused is left as it is."""
        with self.lock:
            if self.nodes[name]["status"] != "paused":
                return
            signal_all(self.node_pids(name), signal.SIGCONT)
            self.nodes[name].update(status="up", since=time.time())
            self._event("resume_node", node=name)

    def zone_nodes(self, zone: str) -> list[str]:
        found = [n for n, s in self.nodes.items() if s["zone"] == zone]
        if not found:
            raise KeyError(f"no zone {zone!r}; zones: {', '.join(sorted({s['zone'] for s in self.nodes.values()}))}")
        return found

    def pause_zone(self, zone: str) -> list[str]:
        """Pause every node of the zone that is not down; returns the nodes paused."""
        with self.lock:
            nodes = [n for n in self.zone_nodes(zone) if self.nodes[n]["status"] != "down"]
            if not nodes:
                raise RuntimeError(f"every node of {zone} is down: there is nothing to pause")
            for n in nodes:
                self.pause_node(n)
            return nodes

    def resume_zone(self, zone: str) -> list[str]:
        """Resume the zone's paused nodes; returns them."""
        with self.lock:
            nodes = [n for n in self.zone_nodes(zone) if self.nodes[n]["status"] == "paused"]
            for n in nodes:
                self.resume_node(n)
            return nodes

    # -- components: one process (and its tree), restarted by the monitor --------------------
    def components(self) -> dict[str, subprocess.Popen]:
        """The killable processes by name: `gateway`, `<node>/replica-<i>` (1-based) of every
        node not down, `<node>/training-agent` while an agent runs there, and `rendezvous`
        (the training job's store) while a job runs."""
        found = {"gateway": self.gateway} if self.gateway is not None else {}
        rdzv = self.training.rendezvous
        if rdzv is not None and rdzv.poll() is None:
            found["rendezvous"] = rdzv
        for name in self.nodes:
            for i, p in enumerate(self.procs.get(name, [])):
                found[f"{name}/replica-{i + 1}"] = p
            agent = self.training.agents.get(name)
            if agent is not None and agent.poll() is None:
                found[f"{name}/training-agent"] = agent
        return found

    def kill_component(self, name: str) -> list[int]:
        """SIGKILL one component and every process below it (not its node): the monitor
        restarts it, as a kubelet would a crashed container."""
        with self.lock:
            found = self.components()
            if name not in found:
                raise KeyError(f"no component {name!r}; components: {', '.join(found) or 'none'}")
            pids = reap([found[name]])
            self._event("kill_component", component=name, pids=len(pids))
            return pids

    # -- the gateway -------------------------------------------------------------------------
    def start_gateway(self) -> None:
        config = {"port": self.plan["gateway_port"], "token_env": self.plan["token_env"],
                  "internal_token_env": INTERNAL_TOKEN_ENV, "admin_token_env": GATEWAY_TOKEN_ENV,
                  "settings": self.topology["gateway"],
                  "upstreams": [{"node": n, "zone": self.nodes[n]["zone"], "url": f"http://127.0.0.1:{p}"}
                                for n, ports in self.plan["replica_ports"].items() for p in ports]}
        write_json(self.dir / "gateway.json", config)
        self.gateway = self._spawn([sys.executable, "-m", "mlqa.stack._gateway", str(self.dir / "gateway.json")],
                                   "gateway.log", role="gateway")

    # -- state -------------------------------------------------------------------------------
    def _event(self, kind: str, **detail: Any) -> None:
        self.events.append({"at": time.time(), "event": kind, **detail})
        del self.events[:-200]

    def state(self) -> dict:
        with self.lock:
            try:
                gw = self.gateway_call("GET", "/admin/state")
            except Exception:  # noqa: BLE001 - the gateway may be starting or gone
                gw = {"upstreams": [], "healthy_by_zone": {}}
            health = {u["node"]: u["healthy"] for u in gw.get("upstreams", [])}
            table = ProcessTable()          # one pass over the process table for every node
            nodes = []
            for name, st in self.nodes.items():
                procs = self.procs.get(name, [])
                pids = sorted(self.node_pids(name, table)) if st["status"] != "down" else []
                nodes.append({"name": name, **st, "pids": pids,
                              "replicas": [{"port": port, "pid": p.pid if p else None,
                                            "alive": bool(p and p.poll() is None), "healthy": health.get(name, False)}
                                           for port, p in zip(self.plan["replica_ports"][name],
                                                              procs + [None] * len(self.plan["replica_ports"][name]))],
                              "gpus": self.gpus(name)})
            return {"stack_id": self.plan["stack_id"], "supervisor_pid": os.getpid(),
                    "gateway": {"url": f"http://127.0.0.1:{self.plan['gateway_port']}",
                                "pid": self.gateway.pid if self.gateway else None,
                                "alive": bool(self.gateway and self.gateway.poll() is None),
                                "healthy_by_zone": gw.get("healthy_by_zone", {}), "faults": gw.get("faults", {})},
                    "token_env": self.plan["token_env"], "token_file": str(self.dir / "token"),
                    "zones": sorted({s["zone"] for s in self.nodes.values()}), "nodes": nodes,
                    "training": self.training.state(), "events": self.events[-20:],
                    "components": [{"name": n, "pid": p.pid, "alive": p.poll() is None}
                                   for n, p in self.components().items()],
                    "faults": self.faults(self.network),
                    "ready": all(health.get(n, False) or not self.plan["replica_ports"][n] for n in self.nodes
                                 if self.nodes[n]["status"] == "up") and bool(gw.get("upstreams"))}

    def owner(self) -> ProcessId | None:
        """The process that owns the stack (a pytest session), by pid and start time."""
        o = self.plan.get("owner")
        if isinstance(o, dict) and isinstance(o.get("pid"), int) and isinstance(o.get("started"), (int, float)):
            return ProcessId(o["pid"], float(o["started"]))
        return None

    def orphaned(self, why: str, **detail: Any) -> None:
        """The stack must stop on its own (its launcher or owner is gone): once."""
        with self.lock:
            if self.stopping.is_set():
                return
            self._event(why, **detail)
        print(f"mlqa stack: {why.replace('_', ' ')} {detail}: stopping", file=sys.stderr, flush=True)
        self.on_orphaned()

    def watch_launcher(self, fd: int) -> None:
        """Until the launcher (`up`) says the stack is handed over, its end of the pipe is
        open; end of file before that (it was killed, or gave up) stops the stack."""
        try:
            got = os.read(fd, 64)
        except OSError:
            got = b""
        finally:
            os.close(fd)
        if not got.startswith(b"detach"):
            self.orphaned("launcher_gone")

    def monitor(self) -> None:
        owner = self.owner()
        while not self.stopping.wait(0.25):
            with self.lock:
                for name, st in self.nodes.items():
                    if st["status"] == "up":
                        for i, p in enumerate(self.procs.get(name, [])):
                            if p.poll() is not None:          # died on its own: restart it, as a kubelet would
                                port = self.plan["replica_ports"][name][i]
                                self.procs[name][i] = self._spawn(self._replica_cmd(port),
                                                                  f"{name}-replica-{i + 1}.log", name, "replica")
                                self._event("replica_restarted", node=name, exit_code=p.returncode)
                    elif st["status"] == "down" and st["restart_at"] and time.time() >= st["restart_at"]:
                        self.nodes[name]["restarts"] += 1
                        self.start_node(name)
                        self._event("auto_repair", node=name)
                if self.gateway is not None and self.gateway.poll() is not None and not self.stopping.is_set():
                    self._event("gateway_restarted", exit_code=self.gateway.returncode)
                    self.start_gateway()
                    if self.network:
                        threading.Thread(target=self._reapply_network, args=(self.gateway,), daemon=True).start()
                self.training.poll()
            if owner is not None and not owner.alive():
                self.orphaned("owner_gone", pid=owner.pid)
                return

    def shutdown(self) -> None:
        if self.stopping.is_set() and self.gateway is None:
            return
        self.stopping.set()
        with self.lock:
            self.training.stop()
            for name in list(self.nodes):
                if self.nodes[name]["status"] != "down":
                    self.kill_node(name, reason="shutdown")
            if self.gateway is not None:
                pids = descendants([self.gateway.pid])
                signal_all(pids, signal.SIGKILL)
                self.gateway.wait(timeout=5)
                self.gateway = None
            table = ProcessTable()       # never this process: its environment is not read
            table.signal(table.tagged(MLQA_STACK_ID=self.plan["stack_id"]), signal.SIGKILL)
            write_json(self.dir / "state.json", {"stack_id": self.plan["stack_id"], "stopped_at": time.time()})


def _forget_pid_files(state_dir: Path) -> None:
    """Remove the pid files that name this process (not a successor's)."""
    me = ProcessId.of(os.getpid())
    try:
        recorded = json.loads((state_dir / "supervisor.json").read_text())
        if me is None or recorded.get("pid") != me.pid:
            return
    except (OSError, ValueError, AttributeError):
        return
    for name in ("supervisor.json", "supervisor.pid"):
        (state_dir / name).unlink(missing_ok=True)


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m mlqa.stack._supervisor")
    ap.add_argument("state_dir")
    ap.add_argument("--launcher-fd", type=int, help="read end of the launcher's pipe (see watch_launcher)")
    args = ap.parse_args()
    state_dir = Path(args.state_dir).resolve()
    sup = Supervisor(state_dir)
    server = AdminServer(("127.0.0.1", sup.plan["control_port"]), handler(sup))

    def stop_in_background() -> None:
        threading.Thread(target=stop_server, args=(sup, server), daemon=True).start()
    sup.on_orphaned = stop_in_background
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop_in_background())
    if args.launcher_fd is not None:
        threading.Thread(target=sup.watch_launcher, args=(args.launcher_fd,), name="launcher", daemon=True).start()
    sup.start_gateway()
    for name in sup.nodes:
        sup.start_node(name)
    threading.Thread(target=sup.monitor, name="monitor", daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        sup.shutdown()
        server.server_close()
        _forget_pid_files(state_dir)


if __name__ == "__main__":
    main()
