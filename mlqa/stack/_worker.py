"""One training worker (one simulated GPU) of the reference model: PyTorch DDP over gloo,
started by torchrun under the node's agent.

The global batch is fixed and split over however many workers the round has, each
worker's loss scaled so that DDP's average is the global batch's mean: the trajectory does
not depend on the world size, so a run that lost a node ends where a fault-free run does.
Resumes from the newest checkpoint whose checksum holds; rank 0 writes a checkpoint every
`checkpoint_every` steps (atomic, with its sha256) and the progress file probes read. A
checkpoint write that fails (the volume is full) is survived: noted in steps.log, counted
in the progress file, and the next checkpoint tries again.
Before every step the worker reads its device's health; a faulted device fails the step
as CUDA does (RuntimeError naming the XID). A worker dies with the torchrun that started it
(`mlqa.procs.die_with_parent`), so none outlives its node's agent or the supervisor.
"""
from __future__ import annotations

import errno
import io
import json
import os
import sys
import time
from pathlib import Path


def _device_fault(gpus_file: Path, device: int) -> str | None:
    try:
        gpus = json.loads(gpus_file.read_text())
    except (OSError, ValueError):
        return None
    g = next((g for g in gpus if g["index"] == device), None)
    if g is None or g["healthy"]:
        return None
    return f"CUDA error: unspecified launch failure (Xid {g['xid']}: {g['reason']}) on GPU {device}"


def _checkpoint_failures(steps_log: Path) -> int:
    """Checkpoint writes that failed in this job so far (earlier launches included)."""
    try:
        return sum(1 for line in steps_log.read_text().splitlines() if line.startswith("checkpoint_failed "))
    except OSError:
        return 0


def _save_checkpoint(store, step: int, state: dict, log) -> bool:
    """Write the step's checkpoint; False (noted in steps.log and on stderr) when the write
    failed — a full disk must not end the training."""
    import torch
    buf = io.BytesIO()
    torch.save(state, buf)
    try:
        store.save(step, buf.getvalue())
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        print(f"checkpoint at step {step} not written: {exc}", file=sys.stderr, flush=True)
        log.write(f"checkpoint_failed {step} {name}\n")
        log.flush()
        return False
    return True


def _data(path: str, label: str):
    import numpy as np
    import pandas as pd
    import torch
    frame = pd.read_csv(path)
    y = frame.pop(label)
    positive = sorted(y.unique(), key=str)[-1]
    X = frame.select_dtypes("number").fillna(0.0).to_numpy(dtype=np.float32)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    return torch.from_numpy(X), torch.from_numpy((y == positive).to_numpy(dtype=np.float32))


def main() -> None:
    from ..procs import die_with_parent
    die_with_parent()                  # before the seconds torch takes to import
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from ._store import CheckpointStore, write_json
    spec = json.loads(Path(os.environ["MLQA_TRAIN_SPEC"]).read_text())
    job = Path(spec["job_dir"])
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    devices = [int(d) for d in os.environ["MLQA_DEVICES"].split(",") if d]
    device = devices[local]
    gpus_file = Path(os.environ["MLQA_GPUS_FILE"])
    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    torch.manual_seed(spec["seed"])
    X, y = _data(spec["data"], spec["label"])
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.9)
    full = spec.get("checkpoints_full_file")
    store = CheckpointStore(job / "checkpoints", keep=spec["keep_checkpoints"], full_marker=Path(full) if full else None)
    step, resumed, rejected = 0, None, []
    found = store.latest()
    if found is not None:
        step, blob, rejected = found
        state = torch.load(io.BytesIO(blob), weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        resumed = step
    log = open(job / "steps.log", "a") if rank == 0 else None
    failures = _checkpoint_failures(job / "steps.log") if rank == 0 else 0
    if log:
        log.write(f"resume {resumed or 0} world {world} restarts {restarts}\n")
        log.flush()
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    gb = spec["batch_size"]
    started, last_loss = time.time(), float("nan")
    while step < spec["steps"]:
        fault = _device_fault(gpus_file, device)
        if fault:
            print(fault, file=sys.stderr, flush=True)
            raise RuntimeError(fault)
        gen = torch.Generator().manual_seed(spec["seed"] * 1_000_003 + step)
        idx = torch.randperm(len(X), generator=gen)[:gb][rank::world]
        opt.zero_grad()
        loss = loss_fn(ddp(X[idx]).squeeze(1), y[idx]) / gb * world
        loss.backward()
        opt.step()
        step += 1
        summed = loss.detach() / world
        dist.all_reduce(summed)
        last_loss = float(summed)
        if log:
            log.write(f"step {step}\n")
            log.flush()
        if rank == 0:
            if step % spec["checkpoint_every"] == 0 or step == spec["steps"]:
                snapshot = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}
                written = _save_checkpoint(store, step, snapshot, log)
                failures += not written
                if not written and spec.get("checkpoint_write_errors") == "fatal":
                    raise SystemExit(f"checkpoint at step {step} not written: checkpoint_write_errors is fatal")
            elapsed = max(time.time() - started, 1e-9)
            write_json(job / "progress.json", {
                "step": step, "steps": spec["steps"], "loss": last_loss, "world_size": world, "restarts": restarts,
                "samples_per_s": (step - (resumed or 0)) * gb / elapsed, "resumed_from": resumed,
                "rejected_checkpoints": rejected, "checkpoint_failures": failures, "at": time.time()},
                durable=False)
        if spec.get("step_time_s"):
            time.sleep(spec["step_time_s"])           # the simulated device's compute time
    if rank == 0:
        with torch.no_grad():
            final = float(torch.nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y))
        write_json(job / "done.json", {"step": step, "final_loss": final, "world_size": world, "at": time.time()})
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
