"""The training rendezvous as a service of its own (Kubernetes' control-plane Deployment;
locally a process the supervisor starts per job and restarts on the same port should it
die): a c10d TCPStore that outlives every training node.

    python -m mlqa.stack._rendezvous --port 29400
"""
from __future__ import annotations

import argparse
import signal
import threading


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=29400)
    args = ap.parse_args()
    from torch.distributed import TCPStore
    store = TCPStore(args.host, args.port, is_master=True, wait_for_workers=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"rendezvous store on {args.host}:{args.port}", flush=True)
    stop.wait()
    del store


if __name__ == "__main__":
    main()
