"""The reference model server: Open Inference Protocol v2 (KServe / Triton / MLServer REST)
plus a plain JSON route, with bearer-token auth, a rate limit per authenticated principal,
failed authentications throttled per client address, a payload cap, header and body
deadlines and a connection cap (`_limits`), input validation (4xx, never a stack trace) and
Prometheus metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..subjects import Model
from ._limits import Gatekeeper, RateLimiter, ServerLimits, body_deadline, run_server
from ._schema import RequestError, Schema, parse_json, rows_from_json, rows_from_oip

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass
class ServeConfig:
    name: str = "model"
    token: str | None = None          # None only with allow_no_auth
    allow_no_auth: bool = False
    rate_per_s: float = 100.0         # per principal (per address without auth)
    #: the bucket's size; None: one second's worth of `rate_per_s` (at least 1)
    rate_burst: float | None = None
    #: a second credential that is not rate-limited: the load generator's, whose quota a
    #: capacity test must not measure
    unlimited_token: str | None = None
    #: failed authentications per client address: `failed_auth_burst` of them at once, then
    #: `failed_auth_per_s`; an address past it is answered 429 before its token is looked at
    failed_auth_per_s: float = 0.5
    failed_auth_burst: float = 30.0
    max_body_bytes: int = 1_000_000
    replicas: int = 1
    zone: str | None = None
    #: upper bounds (seconds) of the mlqa_request_seconds histogram's buckets
    latency_buckets: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
    limits: ServerLimits = field(default_factory=ServerLimits)


def json_error(status: int, message: str, headers: dict | None = None):  # noqa: ANN201 - JSONResponse
    """An error answer as mlqa's servers give it: `{"error": message}`, never a stack trace."""
    from starlette.responses import JSONResponse
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def json_error_handlers() -> dict:
    """Starlette exception handlers that answer 404, 405 and anything unforeseen (500) as
    `json_error` does: shared by `mlqa serve` and the stack's gateway."""
    async def not_found(request, exc):  # noqa: ANN001, ANN202
        return json_error(404, "not found")

    async def not_allowed(request, exc):  # noqa: ANN001, ANN202
        return json_error(405, "method not allowed")

    async def crashed(request, exc):  # noqa: ANN001, ANN202
        return json_error(500, "internal error")
    return {404: not_found, 405: not_allowed, 500: crashed, Exception: crashed}


def build_app(model: Model, schema: Schema, config: ServeConfig):
    """A Starlette app serving `model`. Refuses to build without a token unless
    `allow_no_auth` says so explicitly."""
    import numpy as np
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    if config.token is None and not config.allow_no_auth:
        raise ValueError("refusing to serve without a token: pass --token-env VAR (or --insecure-no-auth)")
    registry = CollectorRegistry()
    requests = Counter("mlqa_requests", "Requests by route and status", ["route", "status"], registry=registry)
    latency = Histogram("mlqa_request_seconds", "Request latency by route, from the request reaching the "
                        "app to the last byte of the answer", ["route"], registry=registry,
                        buckets=config.latency_buckets)
    rows_total = Counter("mlqa_predicted_rows", "Rows predicted", registry=registry)
    gate = Gatekeeper({"token": config.token, "unlimited": config.unlimited_token},
                      RateLimiter(config.rate_per_s, config.rate_burst),
                      RateLimiter(config.failed_auth_per_s, config.failed_auth_burst), unlimited=("unlimited",))
    classes = model.classes

    error = json_error

    def admit(request: Request) -> Response | None:
        refusal = gate.admit(request.client.host if request.client else "-", request.headers.get("authorization", ""))
        return None if refusal is None else error(refusal.status, refusal.message, refusal.headers)

    async def guarded(request: Request, route: str, handler) -> Response:
        try:
            response = admit(request) or await handler(request)
        except RequestError as exc:
            response = error(exc.status, exc.message)
        except Exception:  # noqa: BLE001 - never a stack trace on the wire
            response = error(500, "internal error")
        requests.labels(route, str(response.status_code)).inc()
        return response

    async def body_json(request: Request) -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError(415, "send the request as application/json")
        declared = request.headers.get("content-length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > config.max_body_bytes:
            raise RequestError(413, f"request body over {config.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body_bytes:
                raise RequestError(413, f"request body over {config.max_body_bytes} bytes")
            chunks.append(chunk)
        return parse_json(b"".join(chunks))

    def predict(columns: dict[str, list]) -> tuple[np.ndarray, np.ndarray | None]:
        import pandas as pd
        frame = pd.DataFrame(columns)
        try:
            if model.has_proba:
                proba = model.predict_proba(frame)
                pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if classes is not None \
                    else proba.argmax(axis=1)
                return pred, proba
            return model.predict(frame), None
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise RequestError(422, f"the model could not use this input ({type(exc).__name__})") from None

    def plain(v: Any) -> Any:
        return v.item() if hasattr(v, "item") else v

    async def infer(request: Request) -> Response:
        name = request.path_params["name"]
        if name != config.name:
            raise RequestError(404, f"no model named {name!r}")
        columns = rows_from_oip(await body_json(request), schema)
        pred, proba = await run_in_threadpool(predict, columns)
        rows_total.inc(len(pred))
        outputs = [{"name": "label", "shape": [len(pred)], "datatype": "BYTES" if pred.dtype == object else "FP64",
                    "data": [plain(p) for p in pred]}]
        if proba is not None:
            outputs.append({"name": "probability", "shape": list(proba.shape), "datatype": "FP64",
                            "data": proba.ravel().tolist()})
        return JSONResponse({"model_name": config.name, "id": (await _request_id(request)), "outputs": outputs})

    async def _request_id(request: Request) -> str:
        return request.headers.get("x-request-id", "")

    async def predict_json(request: Request) -> Response:
        columns = rows_from_json(await body_json(request), schema)
        pred, proba = await run_in_threadpool(predict, columns)
        rows_total.inc(len(pred))
        out: dict[str, Any] = {"predictions": [plain(p) for p in pred]}
        if proba is not None:
            out["probabilities"] = proba.tolist()
        return JSONResponse(out)

    async def metadata(request: Request) -> Response:
        if request.path_params["name"] != config.name:
            raise RequestError(404, f"no model named {request.path_params['name']!r}")
        return JSONResponse({"name": config.name, "platform": "mlqa", "versions": ["1"],
                             "inputs": [{"name": c.name, "datatype": c.datatype, "shape": [-1]} for c in schema.columns],
                             "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                                         {"name": "probability", "datatype": "FP64", "shape": [-1, -1]}]})

    async def model_ready(request: Request) -> Response:
        if request.path_params["name"] != config.name:
            raise RequestError(404, f"no model named {request.path_params['name']!r}")
        return JSONResponse({"name": config.name, "ready": True})

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        return JSONResponse({"ready": True})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    async def server_meta(request: Request) -> Response:
        return JSONResponse({"name": "mlqa", "extensions": [], "replicas": config.replicas,
                             **({"zone": config.zone} if config.zone else {})})

    def route(path, fn, methods, name, auth=True):
        async def endpoint(request: Request) -> Response:
            return await guarded(request, name, fn) if auth else await fn(request)
        return Route(path, endpoint, methods=methods)

    routes = [
        route("/v2/health/live", live, ["GET"], "live", auth=False),
        route("/v2/health/ready", ready, ["GET"], "ready", auth=False),
        route("/metrics", metrics, ["GET"], "metrics", auth=False),
        route("/v2", server_meta, ["GET"], "server"),
        route("/v2/models/{name}", metadata, ["GET"], "metadata"),
        route("/v2/models/{name}/ready", model_ready, ["GET"], "model_ready"),
        route("/v2/models/{name}/infer", infer, ["POST"], "infer"),
        route("/predict", predict_json, ["POST"], "predict"),
    ]

    app = Starlette(routes=routes, exception_handlers=json_error_handlers())
    return _timed(body_deadline(app, config.limits.body_timeout_s), latency)


def _route_name(path: str) -> str:
    if path.startswith("/v2/models/"):
        tail = path.rstrip("/").split("/")[4:]
        return {(): "metadata", ("ready",): "model_ready", ("infer",): "infer"}.get(tuple(tail), "other")
    return {"/v2/health/live": "live", "/v2/health/ready": "ready", "/metrics": "metrics", "/v2": "server",
            "/predict": "predict"}.get(path.rstrip("/") or "/", "other")


def _timed(app, histogram):  # noqa: ANN001, ANN202 - ASGI
    """Time every HTTP request from reaching the app to the last byte of its answer (the
    routing, auth, parsing, prediction and the send), into `histogram` by route."""
    async def asgi(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return await app(scope, receive, send)
        started = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            histogram.labels(_route_name(scope["path"])).observe(time.perf_counter() - started)
    return asgi


def serve(app: Any, host: str = "127.0.0.1", port: int = 8080, limits: ServerLimits | None = None) -> None:
    """Run an app with uvicorn until interrupted, within `limits` (header and keep-alive
    timeouts, a connection cap)."""
    run_server(app, host, port, limits)
