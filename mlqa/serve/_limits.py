"""What keeps a server up under misuse: token-bucket rate limits, the limits written on a
command line (`100/s`, `30/min`), and the bounds on a connection: how long a client may take
to send its headers and its body, how long an idle keep-alive connection stays open, and how
many connections are served at once.

Used by `mlqa serve` and the reference stack's gateway (both run on uvicorn's h11 protocol,
which on its own waits for ever for a client that sends its request slowly)."""
from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import MlqaError
from ..units import parse_duration, parse_rate_parts
from ._schema import RequestError

#: the most keys a limiter remembers; past it, the buckets that have refilled are forgotten
#: (a full bucket is what a new key gets anyway), then the least recently used
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Limit:
    """`count` requests per `period_s` seconds: a token bucket of `count` tokens (the burst)
    refilled at `count / period_s` a second."""

    count: float
    period_s: float

    @property
    def rate(self) -> float:
        return self.count / self.period_s

    @property
    def burst(self) -> float:
        return max(self.count, 1.0)


def parse_limit(text: str, what: str = "rate limit") -> Limit:
    """`100/s`, `30/min`, `1000/h` or a bare number (per second), read by
    `mlqa.units.parse_rate_parts`. A MlqaError says what is wrong: zero, negative, not
    finite, or not a rate at all."""
    try:
        count, period = parse_rate_parts(text)
    except MlqaError:
        raise MlqaError(f"{what} {str(text)[:40]!r} is not like `100/s`, `30/min` or `1000/h`") from None
    if not 0 < count <= 1e9:
        raise MlqaError(f"{what} {text!r} must be more than 0 (and at most 1e9) requests per period")
    return Limit(count, period)


def parse_seconds(text: str, what: str, *, maximum: float = 3600.0) -> float:
    """`10s`, `500ms`, `2m` or a bare number of seconds (`mlqa.units.parse_duration`), more
    than 0 and at most `maximum`."""
    try:
        value = parse_duration(str(text))
    except MlqaError:
        raise MlqaError(f"{what} {str(text)[:40]!r} is not like `10s` or `500ms`") from None
    if not 0 < value <= maximum:
        raise MlqaError(f"{what} {text!r} must be more than 0 and at most {maximum:g} s")
    return value


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per key: `burst` tokens (default: one second's worth, at least one),
    refilled at `rate` a second. Remembers at most `max_keys` keys."""

    rate: float
    burst: float | None = None
    max_keys: int = MAX_KEYS
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, (int, float)) and 0 < self.rate < math.inf):
            raise ValueError(f"a rate limit needs a finite rate above 0, got {self.rate!r}")
        self.burst = max(float(self.burst if self.burst is not None else self.rate), 1.0)
        if not self.burst < math.inf:
            raise ValueError(f"a rate limit needs a finite burst, got {self.burst!r}")

    @classmethod
    def of(cls, limit: Limit) -> RateLimiter:
        return cls(limit.rate, limit.burst)

    def _bucket(self, key: str, now: float) -> _Bucket:
        b = self.buckets.get(key)
        if b is None:
            if len(self.buckets) >= self.max_keys:
                self._forget(now)
            b = self.buckets[key] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
        b.stamp = now
        return b

    def _forget(self, now: float) -> None:
        full = [k for k, b in self.buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for k in full:
            del self.buckets[k]
        if len(self.buckets) >= self.max_keys:
            for k in sorted(self.buckets, key=lambda k: self.buckets[k].stamp)[: len(self.buckets) // 2 + 1]:
                del self.buckets[k]

    def allow(self, key: str) -> tuple[bool, float]:
        """Take a token of `key`'s bucket: (allowed, seconds until one is there again)."""
        with self.lock:
            b = self._bucket(key, time.monotonic())
            if b.tokens >= 1:
                b.tokens -= 1
                return True, 0.0
            return False, (1 - b.tokens) / self.rate

    def blocked(self, key: str) -> float:
        """Seconds until `key`'s bucket holds a token again (0: it holds one now); takes none."""
        with self.lock:
            b = self._bucket(key, time.monotonic())
            return 0.0 if b.tokens >= 1 else (1 - b.tokens) / self.rate

    def charge(self, key: str) -> None:
        """Take a token of `key`'s bucket whether or not there is one (down to empty)."""
        with self.lock:
            b = self._bucket(key, time.monotonic())
            b.tokens = max(b.tokens - 1, 0.0)


@dataclass(frozen=True)
class Refusal:
    """Why a request may not go on: the HTTP status, a message, the headers to send."""

    status: int
    message: str
    headers: dict[str, str]


class Gatekeeper:
    """Who may go on, in order: an address with too many failed authentications is refused
    (429) before its token is even compared; a missing or wrong bearer token is refused
    (401) and counted against the address; then the rate limit of the principal the token
    names (not the raw header: `bEaReR t` and `Bearer   t` are one principal). `secrets`:
    principal -> token, empty for a server without auth (then the limit is per address);
    `unlimited`: the principals no rate limit applies to; `limiter` None: no rate limit."""

    def __init__(self, secrets: dict[str, str | None], limiter: RateLimiter | None,
                 failures: RateLimiter, unlimited: tuple[str, ...] = ()) -> None:
        self.secrets = secrets
        self.limiter = limiter
        self.failures = failures
        self.unlimited = unlimited

    def admit(self, address: str, authorization: str) -> Refusal | None:
        """None when the request may go on, else why not."""
        from ..auth import principal
        if not any(v is not None for v in self.secrets.values()):
            who, key = "anonymous", f"address:{address}"
        else:
            wait = self.failures.blocked(address)
            if wait:
                return Refusal(429, "too many failed authentication attempts from this address",
                               {"Retry-After": str(max(1, math.ceil(wait)))})
            who = principal(authorization, self.secrets)
            if who is None:
                self.failures.charge(address)
                return Refusal(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
            key = f"principal:{who}"
        if self.limiter is None or who in self.unlimited:
            return None
        ok, wait = self.limiter.allow(key)
        return None if ok else Refusal(429, "rate limit exceeded", {"Retry-After": str(max(1, math.ceil(wait)))})


@dataclass(frozen=True)
class ServerLimits:
    """The bounds on a connection. `header_timeout_s`: from the connection (or the first byte
    of its next request) to the end of the request's headers, else the connection is closed;
    `body_timeout_s`: from the app asking for the body to its last byte, else 408;
    `keep_alive_s`: an idle keep-alive connection is closed after it; `max_connections`:
    past it, a request is answered 503 at once (uvicorn's `limit_concurrency`)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    max_connections: int = 1000

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 3600):
                raise ValueError(f"{name} must be more than 0 and at most 3600 seconds, got {value!r}")
        if not (isinstance(self.max_connections, int) and not isinstance(self.max_connections, bool)
                and 1 <= self.max_connections <= 1_000_000):
            raise ValueError(f"max_connections must be a whole number from 1 to 1000000, "
                             f"got {self.max_connections!r}")


class BodyTimeout(RequestError):
    """The client did not send its whole body in time (408)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received within {seconds:g} s")


def body_deadline(app: Any, seconds: float) -> Any:
    """ASGI middleware: the app's reads of the request body raise `BodyTimeout` once
    `seconds` have passed since its first read (a client sending a byte a second never
    finishes). Reads after the last body chunk (waiting for a disconnect) are not bounded."""
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        state: dict[str, Any] = {"end": None, "done": False}

        async def bounded_receive():
            if state["done"]:
                return await receive()
            loop = asyncio.get_running_loop()
            if state["end"] is None:
                state["end"] = loop.time() + seconds
            try:
                message = await asyncio.wait_for(receive(), max(state["end"] - loop.time(), 0.0))
            except TimeoutError:
                raise BodyTimeout(seconds) from None
            if message.get("type") != "http.request" or not message.get("more_body", False):
                state["done"] = True
            return message
        return await app(scope, bounded_receive, send)
    return asgi


def header_deadline_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete
    `seconds` after it opened (or after the first byte of its next request arrived)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineH11(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineH11


def server_config(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> Any:
    """A `uvicorn.Config` serving `app` within `limits`: header deadline, keep-alive timeout,
    connection cap (the body deadline is `body_deadline`, applied to the app)."""
    import uvicorn
    limits = limits or ServerLimits()
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          http=header_deadline_protocol(limits.header_timeout_s),
                          timeout_keep_alive=limits.keep_alive_s,  # type: ignore[arg-type]
                          limit_concurrency=limits.max_connections)


def run_server(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> None:
    """Serve `app` with uvicorn within `limits` until interrupted."""
    import uvicorn
    uvicorn.Server(server_config(app, host, port, limits)).run()
