"""The stack's gateway: one URL in front of the serving replicas of every zone.

Active health checks take a replica out after `unhealthy_after` failed checks and back in
after one good one; a refused connection takes it out at once (passive ejection). Requests
go round-robin over zones, then over a zone's healthy replicas; an inference that fails
(connection error, timeout, 5xx) is retried on a replica in another zone. The same bearer
auth and a per-client rate limit as `mlqa serve`; Prometheus metrics. Network faults between
the gateway and a zone (added latency, dropped traffic) are injected here, on the path to
the zone, through the admin route.

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

    from ..auth import bearer_matches
    from ..serve import RateLimiter
    from ..units import parse_rate

    token = os.environ[config["token_env"]]
    internal = os.environ[config["internal_token_env"]]
    admin = os.environ[config["admin_token_env"]]
    s = config["settings"]
    pool = Pool([Upstream(**u) for u in config["upstreams"]])
    faults: dict[str, ZoneFault] = {z: ZoneFault() for z in pool.zones}
    limiter = RateLimiter(parse_rate(s["rate_limit"]))
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

    def authorised(request: Request, secret: str) -> bool:
        return bearer_matches(request.headers.get("authorization", ""), secret)

    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def forward(request: Request) -> Response:
        started = time.perf_counter()
        response = await _forward(request)
        requests.labels(str(response.status_code)).inc()
        latency.observe(time.perf_counter() - started)
        return response

    async def _forward(request: Request) -> Response:
        if not authorised(request, token):
            return error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
        ok, wait = limiter.allow(request.headers.get("authorization", ""))
        if not ok:
            return error(429, "rate limit exceeded", {"Retry-After": f"{max(wait, 0.001):.3f}"})
        body = await request.body()
        headers = {"Authorization": f"Bearer {internal}",
                   **({"Content-Type": request.headers["content-type"]} if "content-type" in request.headers else {})}
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
                r = await send(u, request.method, request.url.path, body, headers, s["try_timeout_s"])
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
        if not authorised(request, admin):
            return error(401, "admin token required")
        return JSONResponse({"upstreams": [{"node": u.node, "zone": u.zone, "url": u.url, "healthy": u.healthy,
                                            "changed_at": u.changed_at} for u in pool.upstreams],
                             "healthy_by_zone": pool.healthy_by_zone(), "checked_at": state.get("checked_at"),
                             "faults": {z: vars(f) for z, f in faults.items()}})

    async def admin_fault(request: Request) -> Response:
        if not authorised(request, admin):
            return error(401, "admin token required")
        zone = request.path_params["zone"]
        if zone not in faults:
            return error(404, f"no zone {zone}")
        try:
            spec = json.loads(await request.body() or b"{}")
            latency_s = float(spec.get("latency_ms", 0)) / 1000
            drop = float(spec.get("drop", 0))
        except (ValueError, TypeError, AttributeError):
            return error(400, "body is {\"latency_ms\": N, \"drop\": 0..1}")
        if latency_s < 0 or not 0 <= drop <= 1:
            return error(400, "latency_ms >= 0 and 0 <= drop <= 1")
        faults[zone] = ZoneFault(latency_s=latency_s, drop=drop)
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
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    config = json.loads(open(sys.argv[1]).read())
    import uvicorn
    uvicorn.run(build_gateway(config), host="127.0.0.1", port=config["port"], log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
