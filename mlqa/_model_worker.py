"""The model worker: one model (or a `python:` factory's object) loaded and called in a
process of its own, under resource limits, so that nothing a model does — run code while
loading, exit, crash, hang, hold the GIL, eat memory, fork — reaches the gate's process.

Started by `mlqa._model_process.ModelProcess` as ``python -m mlqa._model_worker FD``:
requests arrive on stdin, replies go to file descriptor FD (stdout is pointed at stderr,
so a model that prints cannot corrupt a reply). The first request says what to load and
under which limits; the limits are set before anything of the model is read. The wire
format is `mlqa._worker_wire`'s. The worker exits when mlqa closes its stdin or dies.
"""
from __future__ import annotations

import os
import re
import struct
import sys
import threading
import time
import traceback
from typing import Any


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_request(fd: int) -> dict[str, Any] | None:
    import pickle
    head = _read_exact(fd, 8)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">Q", head)[0])
    return None if body is None else pickle.loads(body)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _user_tasks() -> int:
    """Processes and threads the current user runs (what RLIMIT_NPROC counts on Linux)."""
    uid, total = str(os.getuid()), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [uid]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def set_limits(limits: dict[str, Any]) -> None:
    """No core dumps; address space, CPU seconds, open files and (Linux) new processes
    capped as mlqa asked. A limit the platform does not support is skipped."""
    import resource
    wanted = [(resource.RLIMIT_CORE, 0)]
    if limits.get("memory_bytes"):
        wanted.append((resource.RLIMIT_AS, int(limits["memory_bytes"])))
    if limits.get("cpu_s"):
        wanted.append((resource.RLIMIT_CPU, int(limits["cpu_s"])))
    if limits.get("open_files"):
        wanted.append((resource.RLIMIT_NOFILE, int(limits["open_files"])))
    if limits.get("processes") and sys.platform.startswith("linux"):
        wanted.append((resource.RLIMIT_NPROC, _user_tasks() + int(limits["processes"])))
    for which, value in wanted:
        try:
            _, hard = resource.getrlimit(which)
            # CPU: SIGXCPU at the soft limit, SIGKILL 5 s later; the rest: one hard cap
            top = value + 5 if which == resource.RLIMIT_CPU else value
            if hard != resource.RLIM_INFINITY:
                value, top = min(value, hard), min(top, hard)
            resource.setrlimit(which, (value, top))
        except (ValueError, OSError):  # pragma: no cover - not supported on this platform
            pass


def _watch_parent(parent: int) -> None:
    """Exit when mlqa is gone (its stdin pipe may be held open by a forked grandchild)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def _load(spec: dict[str, Any]) -> Any:
    from pathlib import Path
    from ._model_loading import load_model_file, load_python_ref
    if spec["kind"] == "python":
        return load_python_ref(spec["ref"], Path(spec["base"]))
    return load_model_file(Path(spec["path"]), spec.get("format"), tuple(spec.get("trusted", ())))


def _describe(obj: Any) -> tuple[dict[str, Any], list]:
    classes = getattr(obj, "classes_", None)
    header = {"has_predict": hasattr(obj, "predict"), "has_proba": hasattr(obj, "predict_proba"),
              "callable": callable(obj), "type": f"{type(obj).__module__}.{type(obj).__qualname__}",
              "has_classes": classes is not None}
    return header, ([classes] if classes is not None else [])


def _serve(obj: Any, request: dict[str, Any], models: dict[int, Any]) -> tuple[dict[str, Any], list]:
    op = request.get("op")
    model = models[request.get("handle", 0)]
    if op in ("predict", "predict_proba"):
        fn = model.predict_proba if op == "predict_proba" else model.predict if hasattr(model, "predict") else model
        return _timed(fn, request["X"], bool(request.get("trace_memory")))
    if op == "clone_fit":
        from sklearn.base import clone
        fitted = clone(model).fit(request["X"], request["y"])
        handle = max(models) + 1
        models[handle] = fitted
        header, arrays = _describe(fitted)
        return {**header, "handle": handle}, arrays
    if op == "drop":
        if request.get("handle", 0) != 0:
            models.pop(request["handle"], None)
        return {}, []
    raise ValueError(f"unknown request {op!r}")


def _timed(fn: Any, X: Any, trace_memory: bool) -> tuple[dict[str, Any], list]:
    """The answer, with the seconds the model took here (and its peak allocation)."""
    import tracemalloc
    if trace_memory:
        tracemalloc.start()
    try:
        t = time.perf_counter()
        out = fn(X)
        header: dict[str, Any] = {"elapsed_s": time.perf_counter() - t}
        if trace_memory:
            header["peak_bytes"] = tracemalloc.get_traced_memory()[1]
    finally:
        if trace_memory:
            tracemalloc.stop()
    return header, [out]


def _reply(fd: int, header: dict[str, Any], arrays: list) -> None:
    from ._worker_wire import encode_array, reply_frame
    specs, payload = [], []
    for value in arrays:
        spec, data = encode_array(value)
        specs.append(spec)
        payload.append(data)
    _write(fd, reply_frame({"ok": True, "seq": 0, **header, "arrays": specs}, b"".join(payload)))


def _error(fd: int, where: str, exc: BaseException, seq: int = 0) -> None:
    from ._worker_wire import reply_frame
    text = f"{type(exc).__name__}: {exc}"[:2000]
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4)
    _write(fd, reply_frame({"ok": False, "where": where, "error": text, "seq": seq,
                            "traceback": "".join(tb)[-3000:]}))


#: environment variables a model never sees (CI tokens, cloud credentials)
SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE|AUTH|SESSION|COOKIE|"
                        r"^AWS_|^AZURE_|^GOOGLE_|^GCP_|^GH_|^GITHUB_|^CI_JOB_", re.I)


def scrub_environment() -> None:
    """Drop what looks like a secret from this process's environment."""
    for key in [k for k in os.environ if SECRET_ENV.search(k)]:
        del os.environ[key]


def serve(out: int) -> int:
    """Read the load request on stdin, set the limits, load, then answer until stdin ends."""
    os.dup2(2, 1)  # what the model prints goes to stderr, never into a reply
    scrub_environment()
    _adopt_orphans()
    init = _read_request(0)
    if init is None:
        return 0
    set_limits(init.get("limits", {}))
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        obj = _load(init["spec"])
        header, arrays = _describe(obj)
        _reply(out, header, arrays)
    except BaseException as exc:  # noqa: BLE001 - reported to mlqa, which errors the checks
        _error(out, "load", exc)
        return 0
    models = {0: obj}
    while True:
        request = _read_request(0)
        if request is None:
            return 0
        seq = request.get("seq")
        try:
            header, arrays = _serve(obj, request, models)
            _reply(out, {**header, "seq": seq}, arrays)
        except BaseException as exc:  # noqa: BLE001 - the model's own failure, sent back
            try:
                _error(out, str(request.get("op")), exc, seq)
            except BaseException:  # noqa: BLE001 - cannot even reply (memory): die, mlqa sees it
                os._exit(71)


def _adopt_orphans() -> None:
    """Linux: be the subreaper of everything the model starts, so that a grandchild that
    called setsid and lost its parent is still below the worker, where mlqa's kill finds it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - no prctl here
        pass


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the thread that forked it ends — mlqa forks only
    from its single (main) thread, so that is when mlqa itself ends, even by SIGKILL, and
    even while the model holds the GIL (where the watcher thread cannot run)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl here
        pass


def forked_child(request_fd: int, reply_fd: int, stderr_fd: int) -> None:
    """The body of a worker forked from mlqa: a session of its own, only its pipes open,
    default signal handlers; never returns into mlqa's code (always `os._exit`)."""
    code = 70
    try:
        os.setsid()
        _die_with_parent()
        os.dup2(request_fd, 0)
        os.dup2(stderr_fd, 2)
        os.dup2(reply_fd, 3)
        os.closerange(4, 1 << 16)
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        code = serve(3)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
