"""The supervisor's HTTP API on 127.0.0.1: every route needs the admin token; faults and
their reverses, training, state and shutdown."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from ..auth import bearer_matches


def handler(sup: Any) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving `sup`."""
    routes = {
        ("POST", "nodes", "kill"): lambda a, b: {"killed_pids": sup.kill_node(a[0])},
        ("POST", "nodes", "restart"): lambda a, b: sup.restart_node(a[0]),
        ("POST", "nodes", "pause"): lambda a, b: sup.pause_node(a[0]),
        ("POST", "nodes", "resume"): lambda a, b: sup.resume_node(a[0]),
        ("POST", "zones", "kill"): lambda a, b: {n: sup.kill_node(n) for n in sup.zone_nodes(a[0])},
        ("POST", "zones", "restart"): lambda a, b: [sup.restart_node(n) for n in sup.zone_nodes(a[0])],
        ("POST", "zones", "pause"): lambda a, b: sup.pause_zone(a[0]),
        ("POST", "zones", "resume"): lambda a, b: sup.resume_zone(a[0]),
        ("PUT", "zones", "network"): lambda a, b: sup.degrade_zone(a[0], b),
        ("POST", "components", "kill"): lambda a, b: {"killed_pids": sup.kill_component(a[0])},
        ("POST", "nodes", "stress"): lambda a, b: sup.stress_node(a[0], b.get("cpus", 1)),
        ("POST", "nodes", "unstress"): lambda a, b: sup.unstress_node(a[0]),
        ("POST", "volumes", "fill"): lambda a, b: sup.fill_volume(a[0]),
        ("POST", "volumes", "unfill"): lambda a, b: sup.unfill_volume(a[0]),
        ("POST", "gpus", "fault"): lambda a, b: sup.fault_gpu(a[0], int(a[1]), int(b.get("xid", 79))),
        ("POST", "gpus", "heal"): lambda a, b: sup.heal_gpu(a[0], int(a[1])),
        ("POST", "training", "start"): lambda a, b: sup.training.start(b),
        ("POST", "training", "stop"): lambda a, b: sup.training.stop("stopped on request"),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            if not bearer_matches(self.headers.get("Authorization", ""), sup.secrets["admin"]):
                return self._reply(401, {"error": "admin token required"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._reply(400, {"error": "body is not JSON"})
            parts = [unquote(p) for p in self.path.split("/") if p]     # a component's name: %2F for "/"
            try:
                if method == "GET" and parts == ["state"]:
                    return self._reply(200, sup.state())
                if method == "POST" and parts == ["shutdown"]:
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
                    return self._reply(404, {"error": f"no route {self.path}"})
                if key not in routes:
                    return self._reply(404, {"error": f"no route {method} {self.path}"})
                if args and key[1] == "nodes" and args[0] not in sup.nodes:
                    return self._reply(404, {"error": f"no node {args[0]!r}"})
                return self._reply(200, {"ok": True, "result": routes[key](args, body)})
            except KeyError as exc:
                return self._reply(404, {"error": str(exc).strip("'\"")})
            except (ValueError, RuntimeError) as exc:
                return self._reply(409, {"error": str(exc)})

        def do_GET(self) -> None:  # noqa: N802
            self._route("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._route("PUT")

    return Handler


def stop_server(sup: Any, server: ThreadingHTTPServer) -> None:
    """Stop everything, then the API (from a thread of its own: never the request's)."""
    sup.shutdown()
    server.shutdown()
