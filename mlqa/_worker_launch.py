"""Starting a model worker process: forked from mlqa (sharing its imports) or exec'd as a
fresh interpreter, and the handle mlqa keeps on it (pid, pipes, wait, kill)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from .errors import SubjectError


class WorkerError(SubjectError):
    """The model worker died, was killed, or broke the wire format; or the model failed to load."""


class _Child:
    """A worker process: its pid, the pipe mlqa writes requests to, the one it reads."""

    def __init__(self, pid: int, request_fd: int, reply_fd: int, popen: subprocess.Popen | None = None) -> None:
        self.pid, self.request_fd, self.reply_fd, self.popen = pid, request_fd, reply_fd, popen
        self.code: int | None = None

    def wait(self, timeout: float) -> int | None:
        """The exit status (negative: the signal), None while it still runs after `timeout`."""
        if self.code is not None:
            return self.code
        if self.popen is not None:
            try:
                self.code = self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
            return self.code
        end = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.code = -9
                return self.code
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                return self.code
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL the worker's session and every descendant that left it."""
        from .procs import descendants
        try:
            pids = descendants([self.pid])
        except OSError:  # no /proc (macOS): the group is what we can reach
            pids = {self.pid}
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL),
                       *[(lambda p=p: os.kill(p, signal.SIGKILL)) for p in pids]):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass


def _fork_worker(stderr_fd: int) -> _Child:
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (request_r, request_w, reply_r, reply_w):
            os.close(fd)
        raise WorkerError(f"cannot start a model worker: {exc}") from None
    if pid == 0:  # pragma: no cover - the child never returns (coverage cannot see it)
        from ._model_worker import forked_child
        forked_child(request_r, reply_w, stderr_fd)
    os.close(request_r)
    os.close(reply_w)
    return _Child(pid, request_w, reply_r)


def _exec_worker(stderr: Any) -> _Child:
    reply_r, reply_w = os.pipe()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        popen = subprocess.Popen([sys.executable, "-m", "mlqa._model_worker", str(reply_w)],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr,
                                 pass_fds=(reply_w,), start_new_session=True, env=env)
    except OSError as exc:
        os.close(reply_r)
        os.close(reply_w)
        raise WorkerError(f"cannot start a model worker: {exc}") from None
    os.close(reply_w)
    assert popen.stdin is not None
    request_w = os.dup(popen.stdin.fileno())
    popen.stdin.close()
    return _Child(popen.pid, request_w, reply_r, popen)
