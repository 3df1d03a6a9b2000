"""security.endpoint_auth against a server that rate-limits failed authentication (as
`mlqa serve` and the gateway do, per client address): a 429 to a wrong credential says the
request was not served, not that the route wants a credential, so the check is `error`
(no verdict), never `failed` (blaming an endpoint that is protected) nor `passed`."""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pandas as pd

from mlqa.suites import security as S

from planted_http import JSONHandler, serving

TOKEN = "the-right-token-123"


class _Handler(JSONHandler):
    def _send(self, code: int, body: dict) -> None:
        self.send_json(code, body)

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "health" in self.path:
            return self._send(200, {"ready": True})
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return self._send(200, {"outputs": [{"name": "predict", "shape": [1], "datatype": "INT64",
                                                 "data": [0]}]})
        if self.server.mode == "open-metadata" and self.command == "GET":
            return self._send(200, {"name": "model"})  # a route that forgot its auth
        with self.server.lock:
            self.server.failures += 1
            throttled = self.server.failures > self.server.allowed_failures
        self._send(429, {"error": "too many failed attempts"}) if throttled else \
            self._send(401, {"error": "missing or invalid bearer token"})

    do_GET = do_POST = _answer


def planted(allowed_failures: int, mode: str = "protected"):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.allowed_failures, server.mode, server.failures, server.lock = allowed_failures, mode, 0, threading.Lock()
    return serving(server)


def _ctx(make_ctx, url, monkeypatch):
    monkeypatch.setenv("PLANTED_TOKEN", TOKEN)
    frame = pd.DataFrame({"x": [0.1, 0.7, 0.4], "label": [0, 1, 0]})
    ctx = make_ctx(frame, frame, label="label", positive=1)
    ctx.endpoint = {"url": url, "protocol": "oip-v2", "model": "model", "timeout": 5,
                    "auth": {"token_env": "PLANTED_TOKEN"}}
    return ctx


def test_probes_answered_429_give_no_verdict(make_ctx, monkeypatch):
    """After 2 failed attempts the address is throttled: the later probes are 429s. On the
    first issue-12 code they counted as unprotected routes (`failed`)."""
    with planted(allowed_failures=2) as url:
        r = S.endpoint_auth(_ctx(make_ctx, url, monkeypatch))
    assert r.status == "error", r.message
    assert "answered 429" in r.message and r.metrics["throttled"] >= 1


def test_a_protected_endpoint_that_never_throttles_passes(make_ctx, monkeypatch):
    with planted(allowed_failures=10_000) as url:
        r = S.endpoint_auth(_ctx(make_ctx, url, monkeypatch))
    assert r.status == "passed", r.message


def test_an_open_route_fails_even_when_other_probes_are_throttled(make_ctx, monkeypatch):
    """A 200 to a wrong credential is a finding whatever else was throttled."""
    with planted(allowed_failures=2, mode="open-metadata") as url:
        r = S.endpoint_auth(_ctx(make_ctx, url, monkeypatch))
    assert r.status == "failed", r.message
    assert r.metrics["unprotected"] >= 1
