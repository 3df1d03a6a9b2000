"""A node's training agent: runs torchrun (one TorchElastic agent, one worker per healthy
simulated GPU) against the rendezvous the control plane hosts, and relaunches it with the
remaining devices when one is marked unhealthy — as a node does once the device plugin
withdraws a failed GPU. torchrun runs on a lease (`mlqa.stack._lease`): it dies with the
agent, and its workers with it, even when the agent is SIGKILLed.

    python -m mlqa.stack._agent SPEC.json NODE
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..procs import PARENT_ENV, ProcessTable


def healthy_devices(gpus_file: Path) -> list[int]:
    try:
        return [g["index"] for g in json.loads(gpus_file.read_text()) if g["healthy"]]
    except (OSError, ValueError):
        return []


def torchrun_cmd(spec: dict, nproc: int) -> list[str]:
    conf = ("is_host=false,join_timeout=300,last_call_timeout=1,close_timeout=5,heartbeat_timeout=3,"
            "keep_alive_interval=1,keep_alive_max_attempt=3")
    return [sys.executable, "-m", "mlqa.stack._lease", "torch.distributed.run", f"--nnodes={spec['min_nodes']}:{spec['max_nodes']}",
            f"--nproc-per-node={nproc}", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{spec['rdzv_port']}",
            f"--rdzv-id={spec['job_id']}", f"--rdzv-conf={conf}", "--max-restarts=100", "--monitor-interval=0.2",
            "-m", "mlqa.stack._worker"]


def stop_tree(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    """torchrun's workers may run in sessions of their own: signal the whole tree."""
    before = ProcessTable(with_environ=False)
    pids = before.descendants([proc.pid])
    before.signal(pids, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    after = ProcessTable(with_environ=False)
    after.signal(after.descendants([proc.pid]), signal.SIGKILL)
    before.signal(pids, signal.SIGKILL)         # those orphaned since: still the same processes
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def main() -> int:
    spec_path, node = Path(sys.argv[1]), sys.argv[2]
    spec = json.loads(spec_path.read_text())
    job = Path(spec["job_dir"])
    gpus_file = Path(spec["gpus_files"][node])
    current: subprocess.Popen | None = None

    def stop(*_: object) -> None:
        if current is not None:
            stop_tree(current)
        sys.exit(143)
    signal.signal(signal.SIGTERM, stop)
    launches = 0
    while not (job / "done.json").exists():
        devices = healthy_devices(gpus_file)
        if not devices:                       # nothing to train on: wait for a healed device
            time.sleep(0.5)
            continue
        env = {**os.environ, "MLQA_TRAIN_SPEC": str(spec_path), "MLQA_GPUS_FILE": str(gpus_file),
               "MLQA_DEVICES": ",".join(map(str, devices)), "OMP_NUM_THREADS": "1",
               "LOGLEVEL": os.environ.get("MLQA_TRAIN_LOGLEVEL", "INFO"),
               # torchrun otherwise caches the first round's rank-0 store address: when the
               # node that held rank 0 dies, the survivors wait on a dead store. Unshared,
               # every round publishes its address through the control plane's store.
               "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1", PARENT_ENV: str(os.getpid())}
        launches += 1
        print(f"[{node}] launch {launches}: torchrun with devices {devices}", flush=True)
        current = subprocess.Popen(torchrun_cmd(spec, len(devices)), env=env)
        while current.poll() is None:
            time.sleep(0.2)
            # once the job is done, a device change does not stop torchrun: it is finishing,
            # and its peers wait for it in their exit barrier
            if healthy_devices(gpus_file) != devices and not (job / "done.json").exists():
                print(f"[{node}] device health changed: relaunching without the failed device", flush=True)
                stop_tree(current)
                break
        code = current.poll()
        current = None
        if code == 0:
            return 0
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
