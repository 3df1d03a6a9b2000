"""The shared loopback client: built once per process, and never sent off this machine."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlqa import localhttp
from mlqa.localhttp import local_client, local_request


@pytest.mark.parametrize("url", ["https://127.0.0.1:1/x", "http://example.com/x", "http://10.0.0.1/x",
                                 "http://127.0.0.1.example.com/x", "http://user@evil.test/x", "ftp://127.0.0.1/x",
                                 "/relative"])
def test_a_url_off_the_loopback_is_refused(url):
    with pytest.raises(ValueError, match="not a plain-http loopback URL"):
        local_request("GET", url)


def test_one_client_per_process_and_a_new_one_after_a_fork(monkeypatch):
    a = local_client()
    assert local_client() is a
    monkeypatch.setattr(localhttp.os, "getpid", lambda: -1)     # as in a forked child
    b = local_client()
    assert b is not a and local_client() is b


def test_it_talks_to_a_loopback_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        r = local_request("GET", f"http://127.0.0.1:{server.server_port}/state", timeout=5,
                          headers={"Authorization": "Bearer t"})
        assert r.json() == {"path": "/state", "auth": "Bearer t"}
    finally:
        server.shutdown()
        server.server_close()
