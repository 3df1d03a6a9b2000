"""The supervisor's HTTP API on 127.0.0.1: every route needs the admin token; faults and
their reverses, training, state and shutdown.

Every request is checked before anything acts on it (`_fault_params`): the body a JSON object
with only the fields its route takes, each of its type and range; a path's GPU index ASCII
digits. Whatever is wrong is a 4xx with a message; an unforeseen error is a 500 with one —
never a dropped connection. The server (`AdminServer`) serves at most `max_connections`
connections at once (a thread each) and cuts off a client that has not sent its whole
request within `read_timeout_s`."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from ..auth import bearer_matches
from . import _fault_params as P
from ._topology import training_errors


def _none(route: str) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        P.only(body, (), route)
    return check


def _training(body: dict) -> dict:
    problems = training_errors(body)
    if problems:
        raise P.ParamError("; ".join(message for _, message in problems))
    return body


#: (method, kind, verb) -> (check of the body, returning what the call takes; the call)
ROUTES: dict[tuple[str, str, str], tuple[Callable[[dict], Any], Callable[[Any, list[str], Any], Any]]] = {
    ("POST", "nodes", "kill"): (_none("kill"), lambda s, a, b: {"killed_pids": s.kill_node(a[0])}),
    ("POST", "nodes", "restart"): (_none("restart"), lambda s, a, b: s.restart_node(a[0])),
    ("POST", "nodes", "pause"): (_none("pause"), lambda s, a, b: s.pause_node(a[0])),
    ("POST", "nodes", "resume"): (_none("resume"), lambda s, a, b: s.resume_node(a[0])),
    ("POST", "zones", "kill"): (_none("kill"), lambda s, a, b: {n: s.kill_node(n) for n in s.zone_nodes(a[0])}),
    ("POST", "zones", "restart"): (_none("restart"), lambda s, a, b: [s.restart_node(n) for n in s.zone_nodes(a[0])]),
    ("POST", "zones", "pause"): (_none("pause"), lambda s, a, b: s.pause_zone(a[0])),
    ("POST", "zones", "resume"): (_none("resume"), lambda s, a, b: s.resume_zone(a[0])),
    ("PUT", "zones", "network"): (P.network_fault, lambda s, a, b: s.degrade_zone(a[0], b)),
    ("POST", "components", "kill"): (_none("kill"), lambda s, a, b: {"killed_pids": s.kill_component(a[0])}),
    ("POST", "nodes", "stress"): (P.stress, lambda s, a, b: s.stress_node(a[0], b)),
    ("POST", "nodes", "unstress"): (_none("unstress"), lambda s, a, b: s.unstress_node(a[0])),
    ("POST", "volumes", "fill"): (_none("fill"), lambda s, a, b: s.fill_volume(a[0])),
    ("POST", "volumes", "unfill"): (_none("unfill"), lambda s, a, b: s.unfill_volume(a[0])),
    ("POST", "gpus", "fault"): (P.gpu_fault, lambda s, a, b: s.fault_gpu(a[0], P.gpu_index(a[1]), b)),
    ("POST", "gpus", "heal"): (_none("heal"), lambda s, a, b: s.heal_gpu(a[0], P.gpu_index(a[1]))),
    ("POST", "training", "start"): (_training, lambda s, a, b: s.training.start(b)),
    ("POST", "training", "stop"): (_none("stop"), lambda s, a, b: s.training.stop("stopped on request")),
}


def handler(sup: Any) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving `sup`."""

    class Handler(BaseHTTPRequestHandler):
        #: seconds a read may block (the server's deadline bounds the whole request)
        timeout = 10

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body, default=str).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except OSError:      # the client left: nothing to tell it
                self.close_connection = True

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding"):
                raise P.ParamError("send the body with a Content-Length, not chunked", 411)
            declared = (self.headers.get("Content-Length") or "0").strip()
            if not (declared.isascii() and declared.isdigit()):
                raise P.ParamError(f"Content-Length {declared[:20]!r} is not a byte count")
            if len(declared) > 9 or int(declared) > P.MAX_BODY_BYTES:
                raise P.ParamError(f"request body over {P.MAX_BODY_BYTES} bytes", 413)
            data = self.rfile.read(int(declared))
            if len(data) < int(declared):
                raise P.ParamError("request body shorter than its Content-Length")
            return data

        def _route(self, method: str) -> None:
            try:
                self._dispatch(method)
            except P.ParamError as exc:
                self._reply(exc.status, {"error": exc.message})
            except KeyError as exc:
                self._reply(404, {"error": str(exc).strip("'\"")})
            except (ValueError, RuntimeError) as exc:
                self._reply(409, {"error": str(exc)})
            except OSError:      # the client's socket failed or timed out: nobody to answer
                self.close_connection = True
            except Exception as exc:  # noqa: BLE001 - a bug: say so, never drop the connection
                self._reply(500, {"error": f"internal error ({type(exc).__name__}): {str(exc)[:200]}"})

        def _dispatch(self, method: str) -> None:
            if not bearer_matches(self.headers.get("Authorization", ""), sup.secrets["admin"]):
                self._read_done()
                return self._reply(401, {"error": "admin token required"})
            try:
                raw = self._body()
            finally:
                self._read_done()
            body = P.json_object(raw)
            path = self.path.split("?", 1)[0]
            parts = [unquote(p) for p in path.split("/") if p]     # a component's name: %2F for "/"
            if method == "GET" and parts == ["state"]:
                P.only(body, (), "state")
                return self._reply(200, sup.state())
            if method == "POST" and parts == ["shutdown"]:
                P.only(body, (), "shutdown")
                self._reply(200, {"stopping": True})
                threading.Thread(target=stop_server, args=(sup, self.server), daemon=True).start()
                return None
            # /nodes/N/verb, /zones/Z/verb, /components/C/verb, /volumes/V/verb,
            # /nodes/N/gpus/I/verb, /training/verb
            if len(parts) == 5 and parts[0] == "nodes" and parts[2] == "gpus":
                key, args = (method, "gpus", parts[4]), [parts[1], parts[3]]
            elif len(parts) == 3:
                key, args = (method, parts[0], parts[2]), [parts[1]]
            elif len(parts) == 2:
                key, args = (method, parts[0], parts[1]), []
            else:
                return self._reply(404, {"error": f"no route {path[:200]}"})
            if key not in ROUTES:
                return self._reply(404, {"error": f"no route {method} {path[:200]}"})
            if args and key[1] in ("nodes", "gpus") and args[0] not in sup.nodes:
                return self._reply(404, {"error": f"no node {args[0][:100]!r}"})
            check, call = ROUTES[key]
            value = check(body)
            return self._reply(200, {"ok": True, "result": call(sup, args, value)})

        def _read_done(self) -> None:
            done = getattr(self.server, "done_reading", None)
            if done is not None:
                done(self.request)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


class AdminServer(ThreadingHTTPServer):
    """A threading HTTP server with bounds: at most `max_connections` served at once (one
    more is answered 503 and closed), and a connection that has not sent its whole request
    `read_timeout_s` after it was accepted is shut down (checked by `serve_forever`'s poll)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler_class: type[BaseHTTPRequestHandler], *,
                 max_connections: int = 32, read_timeout_s: float = 10.0) -> None:
        super().__init__(address, handler_class)
        self.max_connections = max_connections
        self.read_timeout_s = read_timeout_s
        self._lock = threading.Lock()
        self._active = 0
        self._reading: dict[socket.socket, float] = {}

    def process_request(self, request, client_address) -> None:
        with self._lock:
            full = self._active >= self.max_connections
            if not full:
                self._active += 1
                self._reading[request] = time.monotonic() + self.read_timeout_s
        if full:
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._finished(request)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._finished(request)

    def _finished(self, request: socket.socket) -> None:
        with self._lock:
            self._active -= 1
            self._reading.pop(request, None)

    def done_reading(self, request: socket.socket) -> None:
        """The handler has read the whole request: its deadline no longer applies."""
        with self._lock:
            self._reading.pop(request, None)

    @property
    def active(self) -> int:
        """Connections being served now."""
        return self._active

    def service_actions(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [s for s, deadline in self._reading.items() if deadline < now]
            for s in late:
                del self._reading[s]
        for s in late:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _refuse(request: socket.socket) -> None:
    body = b'{"error": "too many connections to the admin API"}'
    try:
        request.setblocking(False)
        request.send(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    except OSError:
        pass


def stop_server(sup: Any, server: ThreadingHTTPServer) -> None:
    """Stop everything, then the API (from a thread of its own: never the request's)."""
    sup.shutdown()
    server.shutdown()
