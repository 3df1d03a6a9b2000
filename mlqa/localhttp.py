"""One pooled HTTP client per process for mlqa's own calls to control planes on 127.0.0.1
(the reference stack's supervisor and gateway admin routes).

A fresh `httpx` client costs about 20 ms of CPU (it builds a TLS context even for plain
http); a chaos observer asking the gateway for its state ten times a second would take a
fifth of a core from the very system it measures. This client is built once (per process:
a forked child builds its own), is thread-safe, keeps connections alive and never verifies
TLS, because it only ever speaks plain http to the loopback.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import httpx

_lock = threading.Lock()
_client: tuple[int, Any] | None = None


def local_client() -> httpx.Client:
    """The process's shared client for http://127.0.0.1 control calls."""
    global _client
    current = _client
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _lock:
        if _client is None or _client[0] != os.getpid():
            import httpx
            _client = (os.getpid(), httpx.Client(verify=False, trust_env=False,
                                                 limits=httpx.Limits(max_connections=16,
                                                                     max_keepalive_connections=4)))
        return _client[1]


def local_request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """`method url` through the shared client; ValueError for a URL that is not plain http
    to the loopback (the shared client never verifies TLS: it must never leave this machine)."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"{url!r} is not a plain-http loopback URL")
    return local_client().request(method, url, **kwargs)
