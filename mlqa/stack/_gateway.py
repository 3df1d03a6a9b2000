"""The stack's gateway: one URL in front of the serving replicas of every zone.

Active health checks take a replica out after `unhealthy_after` failed checks and back in
after one good one; a refused connection takes it out at once (passive ejection). Requests
go round-robin over zones, then over a zone's healthy replicas; an inference that fails
(connection error, timeout, 5xx) is retried on a replica in another zone. The same bearer
auth, rate limit per principal, throttling of failed authentications per address, header and
body deadlines and connection cap as `mlqa serve`; request paths normalised before routing
(percent-decoding, double slashes; dot segments and encoded slashes refused with 400);
Prometheus metrics. Network faults between the gateway and a zone (added latency, dropped
traffic) are injected here, on the path to the zone, through the admin route (its parameters
checked by `_fault_params`).

    python -m mlqa.stack._gateway CONFIG.json
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

#: the largest request body the gateway takes (the replicas' own default cap)
MAX_BODY_BYTES = 1_000_000
#: the gateway settings' ranges: key -> (whole number?, low, high); a huge `unhealthy_after`
#: is how a topology says "never take a replica out on failed checks alone"
SETTING_RANGES = {"health_interval_s": (False, 0.01, 60.0), "unhealthy_after": (True, 1, 1_000_000),
                  "try_timeout_s": (False, 0.01, 300.0), "retries": (True, 0, 10)}


def settings_errors(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with a topology's `gateway` settings: (key, message) pairs, none when
    they are sound. Numbers finite and in range; `rate_limit` a positive rate."""
    import math
    out: list[tuple[str, str]] = []
    for key, (integral, low, high) in SETTING_RANGES.items():
        if key not in settings:
            continue
        value = settings[key]
        kind = int if integral else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) \
                or not low <= value <= high:
            out.append((key, f"`gateway.{key}` must be {'a whole number' if integral else 'a number'} "
                             f"from {low:g} to {high:g}, got {value!r}"))
    if "rate_limit" in settings:
        from ..errors import MlqaError
        from ..serve import parse_limit
        try:
            parse_limit(settings["rate_limit"], "`gateway.rate_limit`")
        except MlqaError as exc:
            out.append(("rate_limit", str(exc)))
    return out


class PathError(ValueError):
    """A request path the gateway refuses to route (400)."""


def normalise_path(raw: str) -> str:
    """The path to route on, from the request's raw (still percent-encoded) path: each
    segment percent-decoded once, empty segments (double slashes) dropped. A `.` or `..`
    segment (however encoded), an encoded `/` or `\\`, or a control character is refused
    (PathError): nothing may reach a replica's path other than the one routed."""
    segments = []
    for part in raw.split("/"):
        if not part:
            continue
        seg = unquote(part, errors="strict") if "%" in part else part
        if seg in (".", "..") or "/" in seg or "\\" in seg or any(ord(c) < 32 or ord(c) == 127 for c in seg):
            raise PathError(f"path segment {part[:40]!r} is not allowed")
        segments.append(seg)
    return "/" + "/".join(segments)


def _normalised(app):  # noqa: ANN001, ANN202 - ASGI
    """ASGI middleware: route on `normalise_path` of the raw path; 400 when it is refused."""
    async def asgi(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return await app(scope, receive, send)
        raw = scope.get("raw_path")
        raw = raw.decode("latin-1") if raw else quote(scope["path"])
        try:
            path = normalise_path(raw.split("?", 1)[0])
        except (PathError, UnicodeDecodeError) as exc:
            body = json.dumps({"error": f"bad request path: {exc if isinstance(exc, PathError) else 'not UTF-8'}"})
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return None
        scope = {**scope, "path": path, "raw_path": quote(path).encode()}
        return await app(scope, receive, send)
    return asgi


@dataclass
class Upstream:
    node: str
    zone: str
    url: str
    healthy: bool = False
    failures: int = 0
    changed_at: float = field(default_factory=time.time)

    def mark(self, healthy: bool) -> None:
        if healthy != self.healthy:
            self.healthy, self.changed_at = healthy, time.time()


@dataclass
class ZoneFault:
    latency_s: float = 0.0
    drop: float = 0.0           # share of requests to the zone that vanish (answered by a timeout)


class Pool:
    """Healthy replicas by zone, with zone-first round-robin."""

    def __init__(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams
        self.zones = sorted({u.zone for u in upstreams})
        self._zone_turn = itertools.count()
        self._in_zone: dict[str, itertools.count] = {z: itertools.count() for z in self.zones}

    def pick(self, avoid_zones: set[str], avoid: set[str]) -> Upstream | None:
        """The next healthy replica, preferring zones not in `avoid_zones` (those already
        tried), never one in `avoid`."""
        start = next(self._zone_turn)
        order = [self.zones[(start + i) % len(self.zones)] for i in range(len(self.zones))]
        for zones in ([z for z in order if z not in avoid_zones], [z for z in order if z in avoid_zones]):
            for zone in zones:
                live = [u for u in self.upstreams if u.zone == zone and u.healthy and u.node not in avoid]
                if live:
                    return live[next(self._in_zone[zone]) % len(live)]
        return None

    def healthy_by_zone(self) -> dict[str, int]:
        return {z: sum(1 for u in self.upstreams if u.zone == z and u.healthy) for z in self.zones}


def build_gateway(config: dict[str, Any]):
    """The gateway's Starlette app from its config (upstreams, tokens, settings)."""
    import httpx
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from ..serve import (BodyTimeout, Gatekeeper, RateLimiter, ServerLimits, body_deadline, json_error,
                         json_error_handlers, parse_limit)
    from . import _fault_params as P

    token = os.environ[config["token_env"]]
    internal = os.environ[config["internal_token_env"]]
    admin = os.environ[config["admin_token_env"]]
    s = config["settings"]
    pool = Pool([Upstream(**u) for u in config["upstreams"]])
    faults: dict[str, ZoneFault] = {z: ZoneFault() for z in pool.zones}
    rate = parse_limit(s["rate_limit"], "gateway.rate_limit")
    #: failed authentications per address (default 30, then one every 2 s), as `mlqa serve`'s
    failures = RateLimiter.of(parse_limit(config.get("auth_failure_limit", "30/min"), "auth_failure_limit"))
    users = Gatekeeper({"user": token}, RateLimiter.of(rate), failures)
    admins = Gatekeeper({"admin": admin}, None, failures)
    limits = ServerLimits(**config.get("limits", {}))
    registry = CollectorRegistry()
    requests = Counter("mlqa_gateway_requests", "Requests by status", ["status"], registry=registry)
    retries = Counter("mlqa_gateway_retries", "Inference retries on another replica", ["zone"], registry=registry)
    latency = Histogram("mlqa_gateway_request_seconds", "Gateway request latency", registry=registry,
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
    healthy_gauge = Gauge("mlqa_gateway_healthy_replicas", "Healthy replicas per zone", ["zone"],
                          registry=registry)
    ejections = Counter("mlqa_gateway_ejections", "Replicas taken out of rotation", ["zone"], registry=registry)
    state: dict[str, Any] = {}

    def set_health(u: Upstream, ok: bool, *, at_once: bool = False) -> None:
        if ok:
            u.failures = 0
            u.mark(True)
            return
        u.failures = s["unhealthy_after"] if at_once else u.failures + 1
        if u.failures >= s["unhealthy_after"] and u.healthy:
            ejections.labels(u.zone).inc()
            u.mark(False)

    async def send(u: Upstream, method: str, path: str, body: bytes | None, headers: dict,
                   timeout: float) -> httpx.Response:
        fault = faults[u.zone]
        if fault.drop and random.random() < fault.drop:
            await asyncio.sleep(timeout)
            raise httpx.ReadTimeout("dropped by an injected network fault")
        if fault.latency_s:
            if fault.latency_s >= timeout:
                await asyncio.sleep(timeout)
                raise httpx.ReadTimeout("delayed past the timeout by an injected network fault")
            await asyncio.sleep(fault.latency_s)
            timeout -= fault.latency_s
        return await state["client"].request(method, u.url + path, content=body, headers=headers, timeout=timeout)

    async def check_health() -> None:
        interval = s["health_interval_s"]
        while True:
            async def one(u: Upstream) -> None:
                try:
                    r = await send(u, "GET", "/v2/health/ready", None, {}, min(interval * 2, 0.5))
                    set_health(u, r.status_code == 200)
                except httpx.ConnectError:
                    set_health(u, False, at_once=True)
                except httpx.HTTPError:
                    set_health(u, False)
            await asyncio.gather(*(one(u) for u in pool.upstreams))
            for zone, n in pool.healthy_by_zone().items():
                healthy_gauge.labels(zone).set(n)
            state["checked_at"] = time.time()
            await asyncio.sleep(interval)

    def refused(request: Request, gate: Gatekeeper) -> JSONResponse | None:
        refusal = gate.admit(request.client.host if request.client else "-", request.headers.get("authorization", ""))
        return None if refusal is None else error(refusal.status, refusal.message, refusal.headers)

    error = json_error

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise P.ParamError(f"request body over {MAX_BODY_BYTES} bytes", 413)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise P.ParamError(f"request body over {MAX_BODY_BYTES} bytes", 413)
                chunks.append(chunk)
        except BodyTimeout as exc:
            raise P.ParamError(exc.message, exc.status) from None
        return b"".join(chunks)

    async def forward(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await _forward(request)
        except P.ParamError as exc:
            response = error(exc.status, exc.message)
        requests.labels(str(response.status_code)).inc()
        latency.observe(time.perf_counter() - started)
        return response

    async def _forward(request: Request) -> Response:
        no = refused(request, users)
        if no is not None:
            return no
        body = await read_body(request)
        path = quote(request.scope["path"])   # normalised (`_normalised`): no dot segment, no encoded slash
        # the client's Content-Type as the bytes it sent (h11 lets through any byte 0x80-0xff,
        # which httpx would refuse to encode as a str: a 500), for the replica to judge
        ctype = request.headers.get("content-type")
        headers = {"Authorization": f"Bearer {internal}",
                   **({"Content-Type": ctype.encode("latin-1")} if ctype is not None else {})}
        tried_zones: set[str] = set()
        tried: set[str] = set()
        last = "no healthy replica"
        for attempt in range(1 + s["retries"]):
            u = pool.pick(tried_zones, tried)
            if u is None:
                break
            if attempt:
                retries.labels(u.zone).inc()
            tried.add(u.node)
            tried_zones.add(u.zone)
            try:
                r = await send(u, request.method, path, body, headers, s["try_timeout_s"])
            except httpx.ConnectError:
                set_health(u, False, at_once=True)
                last = f"{u.node}: connection refused"
                continue
            except httpx.HTTPError as exc:
                last = f"{u.node}: {type(exc).__name__}"
                continue
            if r.status_code >= 500:
                last = f"{u.node}: answered {r.status_code}"
                continue
            return Response(r.content, status_code=r.status_code, media_type=r.headers.get("content-type"),
                            headers={"X-Served-By": u.node, "X-Zone": u.zone})
        return error(503, f"no replica could answer ({last})")

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        n = sum(pool.healthy_by_zone().values())
        return JSONResponse({"ready": n > 0, "healthy_replicas": n}, status_code=200 if n else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    async def admin_state(request: Request) -> Response:
        no = refused(request, admins)
        if no is not None:
            return no
        return JSONResponse({"upstreams": [{"node": u.node, "zone": u.zone, "url": u.url, "healthy": u.healthy,
                                            "changed_at": u.changed_at} for u in pool.upstreams],
                             "healthy_by_zone": pool.healthy_by_zone(), "checked_at": state.get("checked_at"),
                             "faults": {z: vars(f) for z, f in faults.items()}})

    async def admin_fault(request: Request) -> Response:
        no = refused(request, admins)
        if no is not None:
            return no
        zone = request.path_params["zone"]
        try:
            spec = P.network_fault(P.json_object(await read_body(request)))
        except P.ParamError as exc:
            return error(exc.status, exc.message)
        if zone not in faults:
            return error(404, f"no zone {zone[:100]!r}")
        faults[zone] = ZoneFault(latency_s=spec["latency_ms"] / 1000, drop=spec["drop"])
        return JSONResponse({"zone": zone, **vars(faults[zone])})

    @contextlib.asynccontextmanager
    async def lifespan(app):  # noqa: ANN001, ANN202
        state["client"] = httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        state["checker"] = asyncio.create_task(check_health())
        try:
            yield
        finally:
            state["checker"].cancel()
            await state["client"].aclose()

    routes = [Route("/v2/health/live", live), Route("/v2/health/ready", ready), Route("/metrics", metrics),
              Route("/admin/state", admin_state), Route("/admin/zones/{zone}/network", admin_fault, methods=["PUT"]),
              Route("/v2/models/{name}/infer", forward, methods=["POST"]),
              Route("/v2/models/{name}", forward, methods=["GET"]),
              Route("/v2/models/{name}/ready", forward, methods=["GET"]),
              Route("/predict", forward, methods=["POST"])]

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers=json_error_handlers())
    return _normalised(body_deadline(app, limits.body_timeout_s))


def main() -> int:
    """Serve the gateway of CONFIG.json; exit 2 with a message when its settings are wrong."""
    config = json.loads(open(sys.argv[1]).read())
    problems = settings_errors(config["settings"])
    try:
        from ..serve import parse_limit
        parse_limit(config.get("auth_failure_limit", "30/min"), "auth_failure_limit")
    except Exception as exc:  # noqa: BLE001 - MlqaError: the message says what is wrong
        problems.append(("auth_failure_limit", str(exc)))
    if problems:
        print(f"mlqa gateway: {sys.argv[1]}: " + "; ".join(m for _, m in problems), file=sys.stderr)
        return 2
    from ..serve import ServerLimits, run_server
    run_server(build_gateway(config), "127.0.0.1", config["port"], ServerLimits(**config.get("limits", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
