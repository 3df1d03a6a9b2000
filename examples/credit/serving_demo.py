"""Serve the credit model with `mlqa serve` and gate it with serving.yaml (`make demo-serving`).

    python examples/credit/serving_demo.py [--out DIR] [--port N]

Makes two fresh bearer tokens (clients', rate-limited to 10/s; the load generator's, not
rate-limited), starts the replica on 127.0.0.1, waits until it is ready, runs
`mlqa gate serving.yaml --stage production` against it and always stops the server.
Exits with the gate's code (0 promote, 1 block).
"""
from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="mlqa-out/credit-serving")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    from mlqa.procs import stop_group
    env = {**os.environ, "MLQA_TOKEN": secrets.token_urlsafe(24), "MLQA_LOADGEN_TOKEN": secrets.token_urlsafe(24),
           "CREDIT_ENDPOINT": f"http://127.0.0.1:{args.port}"}
    server = subprocess.Popen([sys.executable, "-m", "mlqa.cli", "serve", "--config", str(HERE / "mlqa.yaml"),
                               "--port", str(args.port), "--token-env", "MLQA_TOKEN",
                               "--unlimited-token-env", "MLQA_LOADGEN_TOKEN", "--rate-limit", "10/s"],
                              env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                print(f"mlqa serve exited with {server.returncode}", file=sys.stderr)
                return 3
            try:
                with urllib.request.urlopen(f"{env['CREDIT_ENDPOINT']}/v2/health/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    print("mlqa serve was not ready within 60s", file=sys.stderr)
                    return 3
                time.sleep(0.2)
        return subprocess.run([sys.executable, "-m", "mlqa.cli", "gate", str(HERE / "serving.yaml"),
                               "--stage", "production", "--out", args.out], env=env).returncode
    finally:
        stop_group(server)


if __name__ == "__main__":
    sys.exit(main())
