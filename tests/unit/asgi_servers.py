"""In-process servers on 127.0.0.1 for the serving tests: an ASGI app under uvicorn (with
mlqa's connection limits) in a thread, a toy model and its schema. Always stopped."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from mlqa.serve import InputColumn, Schema, ServerLimits, server_config

SCHEMA = Schema((InputColumn("x", "numeric"), InputColumn("group", "categorical"), InputColumn("note", "any")))
TOKEN = "unit-token-5c4b3a"


class Threshold:
    """Predicts 1 when x > 0.5; a missing x counts as 0. Ignores the other inputs."""
    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        x = np.nan_to_num(np.asarray(X["x"], dtype=float), nan=0.0)
        p = 1 / (1 + np.exp(np.clip(-(x - 0.5) * 12, -50, 50)))
        return np.c_[1 - p, p]

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def oip_body(x=(0.9, 0.1), group=("a", "b"), note=("n", "m")) -> dict:
    return {"inputs": [{"name": "x", "shape": [len(x)], "datatype": "FP64", "data": list(x)},
                       {"name": "group", "shape": [len(group)], "datatype": "BYTES", "data": list(group)},
                       {"name": "note", "shape": [len(note)], "datatype": "BYTES", "data": list(note)}]}


@contextmanager
def running(app, limits: ServerLimits | None = None, timeout: float = 20.0) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yield its URL; stop it."""
    import uvicorn
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0, limits))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def raw_request(url: str, method: str, target: bytes, headers: list[tuple[bytes, bytes]] = (),
                body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
    """One request sent as written (the target is not normalised, unlike httpx's): (status,
    body). A dropped connection or no answer within `timeout` raises (the fuzz tests' 0
    dropped connections, 0 hangs)."""
    import socket

    import h11
    host, port = url.rsplit("/", 1)[1].split(":")
    conn = h11.Connection(h11.CLIENT)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        all_headers = [(b"host", b"test"), (b"connection", b"close"), *headers]
        if body or method in ("POST", "PUT"):
            all_headers.append((b"content-length", str(len(body)).encode()))
        data = conn.send(h11.Request(method=method, target=target, headers=all_headers))
        data += conn.send(h11.Data(data=body)) if body else b""
        try:
            sock.sendall(data + conn.send(h11.EndOfMessage()))
        except (BrokenPipeError, ConnectionResetError):
            pass         # answered (and closed) before the body was read: the answer is still there
        status, chunks = None, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data and status is None:
                    raise ConnectionError(f"{method} {target[:80]!r}: the server closed the connection without "
                                          "an answer")
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return status, b"".join(chunks)
