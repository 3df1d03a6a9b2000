"""Fuzzing the inference routes of `mlqa serve` and of the stack's gateway (and the gateway's
admin route) on real in-process servers on 127.0.0.1: hostile paths, credentials, content
types and bodies (numbers out of range, NaN, deep nesting, bad UTF-8). The target of issue
12: 0 5xx, 0 dropped connections, 0 hangs (each request bounded by a 10 s timeout)."""
import json
import os
import time

import httpx
import pytest
from asgi_servers import SCHEMA, TOKEN, Threshold, oip_body, raw_request, running
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlqa.serve import ServeConfig, build_app
from mlqa.stack._gateway import build_gateway
from mlqa.subjects import Model

INTERNAL, ADMIN = "fuzz-internal-9a8b", "fuzz-admin-7c6d"
FUZZ = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                         HealthCheck.too_slow])


@pytest.fixture(scope="module")
def served():
    """`mlqa serve` with limits a fuzz does not trip over (its 4xx are what is tested)."""
    app = build_app(Model(Threshold()), SCHEMA, ServeConfig(token=TOKEN, unlimited_token=INTERNAL, rate_per_s=1e6,
                                                            failed_auth_per_s=1e6, failed_auth_burst=1e6))
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(served):
    os.environ.update(FUZZ_USER=TOKEN, FUZZ_INTERNAL=INTERNAL, FUZZ_ADMIN=ADMIN)
    config = {"port": 0, "token_env": "FUZZ_USER", "internal_token_env": "FUZZ_INTERNAL",
              "admin_token_env": "FUZZ_ADMIN", "auth_failure_limit": "1000000/s",
              "settings": {"health_interval_s": 0.2, "unhealthy_after": 3, "try_timeout_s": 5.0, "retries": 1,
                           "rate_limit": "1000000/s"},
              "upstreams": [{"node": "zone-a-node-1", "zone": "zone-a", "url": served}]}
    with running(build_gateway(config)) as url:
        for _ in range(300):
            if httpx.get(url + "/v2/health/ready", timeout=5).status_code == 200:
                break
            time.sleep(0.05)
        yield url


SEGMENT = st.sampled_from(["v2", "models", "model", "infer", "ready", "predict", "health", "live", "metrics",
                           "other", ".", "..", "%2e%2e", "%2E", "%2F", "%2f..", "%00", "%zz", "%c3%28", "a%20b",
                           "%6dodel", "x" * 200, "admin", "state"])
RAW = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999", b"9" * 4301, b"-" + b"9" * 400,
                       b"1" * 309, b"0.5", b"null", b"true", b'"0.5"', b"[]", b"{}", b"[" * 3000, b"\xff"])
VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=5)
AUTH = st.sampled_from([f"Bearer {TOKEN}", f"bEaReR   {TOKEN}", f"bearer\t{TOKEN}", "Bearer wrong", "Basic eDp5",
                        "Bearer", "", f"Bearer {TOKEN[:-1]}", f"Bearer {INTERNAL}"])
CTYPE = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                         "APPLICATION/JSON"])


def _json(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    valid = oip_body(x=[0.9], group=["a"], note=["n"])
    if kind == 0:          # a valid OIP body with one tensor's field replaced
        tensor, field = draw(st.integers(0, 2)), draw(st.sampled_from(["data", "shape", "datatype", "name"]))
        valid["inputs"][tensor][field] = draw(VALUE)
        return _json(valid)
    if kind == 1:          # a raw token where the numeric input's value goes
        return b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [%s]}, ' \
               b'{"name": "group", "shape": [1], "datatype": "BYTES", "data": ["a"]}, ' \
               b'{"name": "note", "shape": [1], "datatype": "BYTES", "data": [%s]}]}' % (draw(RAW), draw(RAW))
    if kind == 2:          # the plain JSON route's instances
        rows = draw(st.lists(st.dictionaries(st.sampled_from(["x", "group", "note", "other"]), VALUE, max_size=4),
                             max_size=3))
        return _json({"instances": rows})
    if kind == 3:
        return b'{"instances": [{"x": %s, "group": "a", "note": %s}]}' % (draw(RAW), draw(RAW))
    return draw(RAW | st.binary(max_size=40))


@st.composite
def inference_requests(draw):
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT"]))
    path = "/" + "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=5)))
    if draw(st.booleans()):
        path = draw(st.sampled_from(["/v2/models/model/infer", "/predict", "/v2/models/model",
                                     "/v2/models/model/ready"]))
    headers = [(b"authorization", draw(AUTH).encode())]
    ctype = draw(CTYPE)
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    body = draw(bodies()) if method != "GET" else b""
    return method, path.encode(), headers, body


def no_5xx(url, method, target, headers, body):
    try:
        status, answer = raw_request(url, method, target, headers, body, timeout=10)
    except (OSError, ConnectionError) as exc:
        pytest.fail(f"{method} {target[:80]!r} {body[:60]!r}: no answer ({type(exc).__name__}: {exc})")
    assert status is not None and status < 500, (method, target[:80], body[:80], status, answer[:200])
    return status, answer


@FUZZ
@given(request=inference_requests())
def test_fuzz_mlqa_serve_inference_routes(served, request):
    no_5xx(served, *request)


@FUZZ
@given(request=inference_requests())
def test_fuzz_the_gateway_inference_routes(gateway, request):
    no_5xx(gateway, *request)


@FUZZ
@given(body=bodies() | st.dictionaries(st.sampled_from(["latency_ms", "drop", "other"]), VALUE, max_size=3).map(_json)
       | st.builds(lambda k, raw: b'{"%s": %s}' % (k.encode(), raw), st.sampled_from(["latency_ms", "drop"]), RAW),
       zone=st.sampled_from(["zone-a", "zone-b", "%2e%2e", "zone-a%2F"]))
def test_fuzz_the_gateway_admin_route(gateway, body, zone):
    auth = [(b"authorization", f"Bearer {ADMIN}".encode()), (b"content-type", b"application/json")]
    try:
        no_5xx(gateway, "PUT", f"/admin/zones/{zone}/network".encode(), auth, body)
        no_5xx(gateway, "GET", b"/admin/state", auth, b"")
    finally:   # a fault the fuzz set (a valid body) is healed before the next example
        raw_request(gateway, "PUT", b"/admin/zones/zone-a/network", auth, b"{}")
