"""Real servers on 127.0.0.1 for the integration tests: started as subprocesses in their own
session, waited for with a bounded loop, and always killed (process group) afterwards."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from mlqa.procs import free_port, stop_group  # noqa: F401 (re-exported to the tests)


@contextmanager
def running(cmd: list[str], *, port: int, env: dict | None = None, cwd: Path | None = None,
            ready_path: str = "/v2/health/ready", timeout: float = 30.0) -> Iterator[str]:
    """Start `cmd`, wait until http://127.0.0.1:port{ready_path} answers, yield the base URL,
    then kill the whole process group whatever happened."""
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
            try:
                if httpx.get(url + ready_path, timeout=0.5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} not ready within {timeout}s")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    stop_group(proc)
    if proc.stdout:
        proc.stdout.close()


def mlqa_serve(model: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mlqa.cli", "serve", str(model), *args]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes of *this* test session (they inherit its
    MLQA_TEST_SESSION, set in tests/conftest.py) that mention `text` (leak detection).
    Another session's processes — `make test` runs two lanes at once — are not this one's leaks."""
    import psutil
    session = os.environ.get("MLQA_TEST_SESSION")
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if text in cmd and (session is None or p.environ().get("MLQA_TEST_SESSION") == session):
                found.append(cmd)
        except (psutil.Error, OSError):
            continue
    return found
