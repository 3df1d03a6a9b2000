"""`mlqa serve` under misuse, on real in-process servers on 127.0.0.1: the rate limit is per
authenticated principal (not per spelling of the Authorization header), failed
authentications are throttled per address, slow clients are cut off, connections are capped,
numbers out of range are 4xx, and bad startup flags are refused with exit 2."""
import math
import socket
import time

import httpx
import pytest
from asgi_servers import SCHEMA, TOKEN, Threshold, oip_body, running
from hypothesis import given
from hypothesis import strategies as st

from mlqa.auth import bearer_token, principal
from mlqa.serve import (
    Gatekeeper,
    RateLimiter,
    RequestError,
    ServeConfig,
    ServerLimits,
    build_app,
    parse_json,
    parse_limit,
)
from mlqa.subjects import Model

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def app_with(**config):
    return build_app(Model(Threshold()), SCHEMA, ServeConfig(token=TOKEN, **config))


# -- the rate limit is per principal ------------------------------------------------------------

def test_one_token_spelt_twenty_ways_is_one_bucket():
    """On main the limiter keyed on the raw header: each spelling got a fresh bucket (20 of 20
    through a 1/s limit)."""
    spellings = [f"{'bearer' if i % 3 == 0 else 'bEaReR' if i % 3 == 1 else 'Bearer'}{' ' * (1 + i)}{TOKEN}"
                 for i in range(20)]
    with running(app_with(rate_per_s=1.0)) as url, httpx.Client(base_url=url, timeout=10) as http:
        started = time.monotonic()
        codes = [http.get("/v2/models/model", headers={"Authorization": h}).status_code for h in spellings]
        elapsed = time.monotonic() - started
    assert set(codes) <= {200, 429}
    assert codes.count(200) <= 2 + math.floor(elapsed), codes     # a burst of 1, then 1 a second
    assert codes.count(429) >= 1


def test_each_spelling_of_the_scheme_is_accepted_twin():
    with running(app_with(rate_per_s=1000.0)) as url, httpx.Client(base_url=url, timeout=10) as http:
        for header in (f"Bearer {TOKEN}", f"bEaReR {TOKEN}", f"Bearer   {TOKEN}", f"bearer\t{TOKEN}"):
            assert http.get("/v2/models/model", headers={"Authorization": header}).status_code == 200, header
        for header in (f"Basic {TOKEN}", f"Bearer{TOKEN}", f"Bearer {TOKEN} x", f"Bearer {TOKEN[:-1]}", "Bearer"):
            assert http.get("/v2/models/model", headers={"Authorization": header}).status_code == 401, header


def test_principal_names_the_secret_and_nothing_else():
    secrets = {"token": "abc", "unlimited": "xyz", "unset": None}
    assert principal("BEARER  abc ", secrets) == "token" and principal("bearer xyz", secrets) == "unlimited"
    assert principal("Bearer abcd", secrets) is None and principal("Bearer ", secrets) is None
    assert principal("", secrets) is None and bearer_token("Bearer a b") is None


# -- failed authentication is throttled per address ---------------------------------------------

def test_failed_authentication_is_throttled_then_the_address_is_refused():
    """On main a client could guess tokens for ever: every wrong one was a 401."""
    with running(build_app(Model(Threshold()), SCHEMA, ServeConfig(token=TOKEN, failed_auth_per_s=1 / 60,
                                                                   failed_auth_burst=5))) as url, \
            httpx.Client(base_url=url, timeout=10) as http:
        codes = [http.get("/v2/models/model", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                 for i in range(8)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3, codes
        blocked = http.get("/v2/models/model", headers=AUTH)
        assert blocked.status_code == 429 and "failed authentication" in blocked.json()["error"]
        assert int(blocked.headers["Retry-After"]) >= 1
        assert http.get("/v2/health/ready").status_code == 200      # health routes stay open


def test_the_gatekeeper_counts_only_failures_twin():
    gate = Gatekeeper({"token": "t"}, RateLimiter(1000), RateLimiter(1 / 60, 3))
    assert all(gate.admit("10.0.0.1", "Bearer t") is None for _ in range(50))   # successes cost nothing
    assert [gate.admit("10.0.0.1", "Bearer x").status for _ in range(4)] == [401, 401, 401, 429]
    assert gate.admit("10.0.0.2", "Bearer t") is None                           # another address


def test_the_unlimited_principal_is_not_rate_limited_but_the_other_is():
    gate = Gatekeeper({"token": "t", "unlimited": "u"}, RateLimiter(1 / 60, 2), RateLimiter(1, 5),
                      unlimited=("unlimited",))
    assert all(gate.admit("a", "Bearer u") is None for _ in range(20))
    assert [gate.admit("a", "Bearer t") is None for _ in range(3)] == [True, True, False]


def test_a_limiter_forgets_keys_past_its_bound():
    limiter = RateLimiter(1.0, max_keys=100)
    for i in range(1000):
        limiter.allow(f"k{i}")
    assert len(limiter.buckets) <= 100


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan])
def test_a_limiter_refuses_a_rate_that_is_not_positive_and_finite(rate):
    with pytest.raises(ValueError):
        RateLimiter(rate)


# -- slow clients, connection cap ----------------------------------------------------------------

FAST = ServerLimits(header_timeout_s=0.3, body_timeout_s=0.3, keep_alive_s=0.3, max_connections=100)


def closed_by_server(sock: socket.socket, bound: float = 15.0) -> bytes:
    """What the server sent before closing `sock`; fails if it still holds it after `bound`
    seconds (a generous bound on a timeout of 0.3 s: never a timing assertion)."""
    sock.settimeout(bound)
    received = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            pytest.fail(f"the server still holds the connection after {bound} s (got {received[:80]!r})")
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def test_a_client_that_sends_nothing_or_half_its_headers_is_cut_off():
    """On main `mlqa serve` (uvicorn's h11) waited for ever for the rest of the headers."""
    with running(app_with(limits=FAST), FAST) as url:
        port = int(url.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port))
        partial = socket.create_connection(("127.0.0.1", port))
        partial.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bea")
        try:
            assert closed_by_server(silent) == b""
            assert closed_by_server(partial) == b""
        finally:
            silent.close()
            partial.close()


def test_a_client_that_sends_half_its_body_gets_408():
    with running(app_with(limits=FAST), FAST) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inst")
        try:
            answer = closed_by_server(sock)
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"request body not received" in answer


#: the twin's limits: the same cut-offs, long enough that no stall of a busy machine between
#: a prompt client's two writes (or its requests) reaches them
PROMPT = ServerLimits(header_timeout_s=10, body_timeout_s=10, keep_alive_s=10, max_connections=100)


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(4096)
    if not chunk:
        pytest.fail("the server closed the connection of a prompt client")
    return chunk


def test_a_prompt_client_is_served_over_keep_alive_twin():
    with running(app_with(limits=PROMPT), PROMPT) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(15)
        try:
            for _ in range(3):
                sock.sendall(b"GET /v2/models/model HTTP/1.1\r\nHost: x\r\n")
                sock.sendall(b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    data += _recv(sock)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += _recv(sock)
                assert head.startswith(b"HTTP/1.1 200") and b'"name":"model"' in body, data[:200]
        finally:
            sock.close()


def test_connections_past_the_cap_are_answered_503_and_served_again_once_gone():
    limits = ServerLimits(header_timeout_s=30, max_connections=3)
    with running(app_with(), limits) as url:
        port = int(url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            r = httpx.get(url + "/v2/models/model", headers=AUTH, timeout=10)
            assert r.status_code == 503
        finally:
            for s in held:
                s.close()
        for _ in range(200):                     # bounded: the server notices the closes
            if httpx.get(url + "/v2/models/model", headers=AUTH, timeout=10).status_code == 200:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not serve again once the held connections closed")


# -- numbers out of range are 4xx ------------------------------------------------------------------

HUGE = "9" * 4301


@pytest.mark.parametrize("body", [
    '{"instances": [{"x": %s, "group": "a", "note": 1}]}' % HUGE,
    '{"instances": [{"x": 0.5, "group": "a", "note": %s}]}' % HUGE,
    '{"instances": [{"x": 1e400, "group": "a", "note": 1}]}',
    '{"instances": [{"x": -%s, "group": "a", "note": 1}]}' % ("9" * 350),
    '{"instances": [{"x": 0.5, "group": "a", "note": %s}]}' % ("9" * 350),
])
def test_a_number_out_of_range_is_422_not_500(body):
    """On main a 4,301-digit integer was a 500 (Python's int-string conversion limit)."""
    with running(app_with()) as url:
        r = httpx.post(url + "/predict", content=body, timeout=10,
                       headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert "range" in r.json()["error"]


def test_an_oip_shape_out_of_range_is_422():
    with running(app_with()) as url, httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        for shape in ([int(HUGE[:400])], [-1, -2], [1] * 9):
            body = oip_body(x=[0.9, 0.1])
            body["inputs"][0]["shape"] = shape
            r = http.post("/v2/models/model/infer", json=body)
            assert r.status_code == 422, (shape, r.text)
        assert http.post("/v2/models/model/infer", json=oip_body()).status_code == 200    # twin


@given(st.binary(max_size=64) | st.text(alphabet="0123456789-+.eE[]{}\":, naNIfity", max_size=64).map(str.encode))
def test_parse_json_raises_nothing_but_request_errors(body):
    try:
        parse_json(body)
    except RequestError as exc:
        assert 400 <= exc.status < 500


# -- startup flags ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value", [
    ("--rate-limit", "0/s"), ("--rate-limit", "-1/s"), ("--rate-limit", "fast"), ("--rate-limit", "5/fortnight"),
    ("--auth-failure-limit", "0/min"), ("--port", "0"), ("--port", "70000"), ("--port", "http"),
    ("--max-body", "0"), ("--max-body", "2GiB"), ("--header-timeout", "0"), ("--header-timeout", "nan"),
    ("--body-timeout", "-1s"), ("--keep-alive", "2h"), ("--max-connections", "0"),
    ("--max-connections", "many"), ("--latency-buckets", "nan,1"), ("--latency-buckets", "0.1,inf"),
    ("--name", "a/b"), ("--name", ""),
])
def test_a_bad_startup_flag_is_refused_with_exit_2_before_anything_is_served(flag, value, monkeypatch, capsys,
                                                                              tmp_path):
    """On main `--rate-limit 0/s` started a server that answered 500 to every request."""
    from mlqa import cli
    from mlqa.serve import _app

    def must_not_serve(*args, **kwargs):
        raise AssertionError("the server was started")
    monkeypatch.setattr(_app, "serve", must_not_serve)
    code = cli.main(["serve", str(tmp_path / "model.joblib"), "--insecure-no-auth", f"{flag}={value}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert flag in err


def test_sound_flags_are_taken_as_written_twin():
    from argparse import Namespace

    from mlqa.serve._main import check_flags
    flags = check_flags(Namespace(port="8081", name="credit-v2", host="127.0.0.1", max_body="2MB",
                                  header_timeout="500ms", body_timeout="20s", keep_alive="3", max_connections="64",
                                  rate_limit="30/min", auth_failure_limit="10/min", latency_buckets="0.01,0.1,1"))
    assert flags.port == 8081 and flags.max_body == 2_000_000 and flags.latency_buckets == (0.01, 0.1, 1.0)
    assert flags.limits == ServerLimits(header_timeout_s=0.5, body_timeout_s=20, keep_alive_s=3, max_connections=64)
    assert (flags.rate.rate, flags.rate.burst) == (0.5, 30.0)
    assert parse_limit("100/s").burst == 100 and parse_limit("0.5/s").burst == 1
