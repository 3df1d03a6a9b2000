"""Endpoint security: authentication on every model route, malformed input answered with
a clean 4xx, and a rate limit that holds under a burst."""
from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...endpoint import Endpoint
from ...judge import judge
from ...params import NonNegative, Positive, PositiveInt, Range

#: what a response must never show a caller: a traceback, a source path, the installation
LEAKS = (re.compile(r"Traceback \(most recent call last\)"), re.compile(r'File "[^"]+", line \d+'),
         re.compile(r"(?:/usr|/home|/opt|/var|/tmp|/root|/srv|/app|[A-Z]:\\)[\w/\\.-]*\.py"),
         re.compile(r"site-packages"))


def leaks(body: str, secret: str | None) -> str | None:
    """What `body` leaks (a traceback, a path, the credential), or None."""
    for pattern in LEAKS:
        m = pattern.search(body)
        if m:
            return f"response leaks `{m.group(0)[:60]}`"
    if secret and secret in body:
        return "response leaks the credential"
    return None


def _endpoint(ctx: CheckContext) -> Endpoint | CheckResult:
    try:
        return Endpoint.from_config(ctx.endpoint)
    except LookupError as exc:
        return CheckResult(status="error", message=str(exc))


def _sample(ctx: CheckContext, rows: int = 2):
    data = ctx.test or ctx.train
    return None if data is None else data.X.head(rows)


@check("security.endpoint_auth", requires=("endpoint",))
def endpoint_auth(ctx: CheckContext) -> CheckResult:
    """Every model and metadata route must reject requests with no credential, a wrong one
    or a malformed header (401 or 403); health routes may stay open. With a token
    configured (`endpoint.auth.token_env`), the right credential must get through, so a
    server that rejects everything cannot pass. No unprotected route is allowed. A probe
    answered 429 (the server throttles failed authentication from this address) proves
    nothing either way: with no unprotected route seen, the result is `error`.
    """
    ep = _endpoint(ctx)
    if isinstance(ep, CheckResult):
        return ep
    sample = _sample(ctx)
    body = json.dumps(ep.payload(sample)) if sample is not None else "{}"
    credentials = {"none": {}, "wrong token": ep.auth_headers("not-the-token-" + "x" * 8),
                   "malformed header": {ep.header: "Basic dXNlcjpwYXNz"}}
    rows, unprotected, throttled = [], 0, 0
    with ep.client() as http:
        if ep.token:
            r = http.request(ep.model_routes[0][0], ep.model_routes[0][1], headers=ep.auth_headers(),
                             content=body if ep.model_routes[0][0] == "POST" else None,
                             **({"headers": {**ep.auth_headers(), "Content-Type": "application/json"}}
                                if ep.model_routes[0][0] == "POST" else {}))
            if r.status_code >= 400:
                return CheckResult(status="error", message=f"the configured credential is refused on "
                                   f"{ep.model_routes[0][1]} ({r.status_code}): cannot tell auth from breakage")
        for method, path in ep.model_routes:
            for label, headers in credentials.items():
                r = http.request(method, path, headers={**headers, "Content-Type": "application/json"},
                                 content=body if method == "POST" else None)
                ok = r.status_code in (401, 403)
                throttled += r.status_code == 429
                unprotected += not ok and r.status_code != 429
                rows.append({"route": f"{method} {path}", "credential": label, "status": r.status_code,
                             "rejected": ok})
        for method, path in ep.health_routes:
            r = http.request(method, path)
            rows.append({"route": f"{method} {path}", "credential": "none", "status": r.status_code,
                         "rejected": r.status_code in (401, 403), "note": "health route: may stay open"})
    bad = [f"{r['route']} with {r['credential']} -> {r['status']}" for r in rows
           if not r["rejected"] and "note" not in r and r["status"] != 429]
    if throttled and not unprotected:
        # a 429 says the request was not served, not that the route wants a credential (an
        # open route behind a rate limit answers the same): no verdict either way
        return CheckResult(status="error", message=(
            f"{throttled} probe(s) answered 429 (rate limited, e.g. after earlier failed "
            f"authentications from this address): cannot tell whether those routes require a "
            f"credential; run again once the limit resets (Retry-After)"),
            metrics={"unprotected": 0.0, "throttled": float(throttled)},
            evidence={"requests": rows, "endpoint": ep.url})
    return judge({"unprotected": float(unprotected)}, {"unprotected": ("<=", 0.0)},
                 detail="; ".join(bad[:4]), evidence={"requests": rows, "endpoint": ep.url})


def _malformed(ep: Endpoint, valid: dict):
    """Hypothesis strategy of (content type, body bytes) malformed requests."""
    from hypothesis import strategies as st
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                               | st.text(max_size=20), lambda c: st.lists(c, max_size=4)
                               | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=10)
    first = valid["inputs"][0] if "inputs" in valid else None

    def dumps(v: Any) -> bytes:
        return json.dumps(v).encode()

    # values no column type accepts: a container, a boolean, and for numeric tensors a
    # string; never null (a missing value) or a number of the right type, which are valid
    containers = st.lists(json_values, max_size=3) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    numeric = first is not None and first.get("datatype") != "BYTES"
    wrong = containers | st.booleans() | (st.text(min_size=1, max_size=12) if numeric else st.nothing())

    def mutate_value(v: Any) -> bytes:
        if first is not None:
            return dumps({"inputs": [{**first, "data": [v] * len(first["data"])}] + valid["inputs"][1:]})
        rows = valid["instances"]
        key = next(iter(rows[0]))
        return dumps({"instances": [{**rows[0], key: v}]})

    def drop_field(i: int) -> bytes:
        if first is not None:
            keys = ["name", "shape", "datatype", "data"]
            return dumps({"inputs": [{k: x for k, x in first.items() if k != keys[i % 4]}] + valid["inputs"][1:]})
        return dumps({"instances": [{k: x for j, (k, x) in enumerate(valid["instances"][0].items()) if j != i}]})

    ctype = st.just("application/json")
    return st.one_of(
        st.tuples(ctype, json_values.map(dumps)),
        st.tuples(ctype, wrong.map(mutate_value)),
        st.tuples(ctype, st.integers(0, 20).map(drop_field)),
        st.tuples(ctype, st.integers(1, 40_000).map(lambda n: b"[" * n + b"]" * n)),
        st.tuples(ctype, st.integers(10_000, 400_000).map(lambda n: dumps({"inputs": [{"name": "x", "shape": [n],
                                                                                      "datatype": "FP64",
                                                                                      "data": [0.5] * n}]}))),
        st.tuples(ctype, st.sampled_from([b'{"inputs": NaN}', b'{"instances": [Infinity]}', b'[-Infinity]',
                                          b'{"inputs": [{"name": "a", "data": [NaN]}]}'])),
        st.tuples(ctype, st.binary(min_size=1, max_size=64).map(lambda b: b'{"inputs": "' + b + b'\xff"}')),
        st.tuples(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]),
                  st.just(dumps(valid))),
    )


@check("security.endpoint_input", requires=("endpoint",))
def endpoint_input(ctx: CheckContext, *, max_examples: PositiveInt = 150) -> CheckResult:
    """Property-based fuzzing (hypothesis) of malformed requests to the inference route:
    random and mutated JSON, wrong types, missing fields, huge arrays, deep nesting,
    invalid UTF-8, NaN / Infinity literals, wrong content types (a null is a missing value,
    not malformed; a number in a numeric input is valid). Every answer must be a
    4xx within the endpoint's timeout — no 5xx, no hang — and no body may leak a stack
    trace, a file path or the credential. Reports the minimal failing request hypothesis
    shrank to; passes when none is found within `max_examples`.

    Parameters:
    max_examples: malformed requests to try before shrinking (default 150)
    """
    import httpx
    from .._hypothesis import find_minimal
    ep = _endpoint(ctx)
    if isinstance(ep, CheckResult):
        return ep
    sample = _sample(ctx)
    if sample is None:
        return CheckResult(status="error", message="needs `data.test` to build valid requests to mutate")
    valid = ep.payload(sample)
    sent = {"n": 0}
    with ep.client() as http:
        r = http.post(ep.infer_route, json=valid, headers=ep.auth_headers())
        if r.status_code != 200:
            return CheckResult(status="error", message=f"a valid request gets {r.status_code}, not 200: "
                               "check endpoint.url, model and auth before fuzzing")

        def problem(req: tuple[str, bytes]) -> str | None:
            ctype, body = req
            sent["n"] += 1
            headers = {**ep.auth_headers(), **({"Content-Type": ctype} if ctype else {})}
            try:
                resp = http.post(ep.infer_route, content=body, headers=headers)
            except httpx.TimeoutException:
                return f"no answer within {ep.timeout:g}s"
            except httpx.HTTPError as exc:
                return f"connection failed: {type(exc).__name__}"
            if not 400 <= resp.status_code < 500:
                return f"answered {resp.status_code}"
            return leaks(resp.text, ep.token)

        minimal = find_minimal(_malformed(ep, valid), lambda req: problem(req) is not None,
                               max_examples=max_examples, seed=ctx.seed, deadline=ctx.deadline)
        healthy = http.get("/v2/health/ready").status_code == 200 if ep.protocol == "oip-v2" else True
        why = problem(minimal) if minimal is not None else None
    evidence: dict = {"requests_sent": sent["n"], "endpoint": ep.url, "healthy_after": healthy}
    if minimal is None:
        return judge({"failing_requests": 0.0}, {"failing_requests": ("<=", 0.0)},
                     detail=f"{sent['n']} malformed requests, every one a clean 4xx", evidence=evidence)
    body = minimal[1]
    evidence["counterexample"] = {"content_type": minimal[0], "body_bytes": len(body),
                                  "body": body[:300].decode("utf-8", "replace"), "problem": why}
    return judge({"failing_requests": 1.0}, {"failing_requests": ("<=", 0.0)},
                 detail=f"minimal failing request ({minimal[0] or 'no content type'}, {len(body)} bytes): {why}",
                 evidence=evidence)


def _rate_limit_params(params: dict) -> None:
    if params["burst_factor"] <= params["burst_allowance_s"]:
        raise ValueError(f"burst_factor ({params['burst_factor']:g}) must be above burst_allowance_s "
                         f"({params['burst_allowance_s']:g}): a burst of that many seconds' worth of "
                         f"requests can never exceed the limit plus its allowance")


@dataclass(frozen=True)
class Burst:
    """What one burst achieved: requests sent and their status codes, over `seconds` from
    the first request sent to the last answer."""

    codes: tuple[int, ...]
    seconds: float
    stopped_early: bool

    @property
    def sent(self) -> int:
        return len(self.codes)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else float("inf")


def send_burst(ep: Endpoint, send: Callable[[Any], int], *, total: int, workers: int,
               stop_after_s: float, deadline: Any = None) -> Burst:
    """`total` requests from `workers` threads, each on its own keep-alive connection, as
    fast as the server answers; no new request is started after `stop_after_s` seconds (or
    once `deadline` is cancelled). `send(http)` makes one request and returns its status
    (-1: no answer)."""
    lock = threading.Lock()
    tickets = iter(range(total))
    codes: list[int] = []
    stopped = threading.Event()
    started = time.perf_counter()

    def worker() -> None:
        with ep.client() as http:
            while True:
                with lock:
                    late = time.perf_counter() - started > stop_after_s or (
                        deadline is not None and deadline.cancelled)
                    ticket = None if late else next(tickets, None)
                if late:
                    stopped.set()
                if ticket is None:
                    return
                code = send(http)
                with lock:
                    codes.append(code)

    threads = [threading.Thread(target=worker, daemon=True, name=f"mlqa-burst-{i}")
               for i in range(min(workers, total))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Burst(codes=tuple(codes), seconds=time.perf_counter() - started,
                 stopped_early=stopped.is_set() and len(codes) < total)


@check("security.endpoint_rate_limit", requires=("endpoint",), validate=_rate_limit_params)
def endpoint_rate_limit(ctx: CheckContext, *, rate: Positive, burst_factor: Annotated[float, Range(1.0, lo_open=True)] = 3.0,
                        burst_allowance_s: NonNegative = 1.0, workers: PositiveInt = 8,
                        cooldown_s: NonNegative = 1.5) -> CheckResult:
    """A burst beyond the declared per-client rate must get 429s (not 5xx, not silence),
    no more requests may be accepted than the limit allows, and the service must be healthy
    and answer a valid request afterwards.

    The burst is `rate x burst_factor` requests from `workers` concurrent keep-alive
    connections. A limiter at `rate`/s may accept a burst of `burst_allowance_s` seconds'
    worth at once (a token bucket's capacity), so in `t` seconds it may accept
    `rate x (t + burst_allowance_s)` requests; the burst exceeds the limit only when it
    sends more than that. When it could not (a slow server, a busy machine), the check is
    `error` ("could not exceed the limit"), never `failed`: a limit that was never
    reached says nothing about the server. The evidence has the rate sent, the requests
    accepted and refused with 429, and the most the limit allows.

    Parameters:
    rate: the rate limit the endpoint declares, requests per second per client
    burst_factor: the burst is this many seconds' worth of requests at the declared rate (default 3)
    burst_allowance_s: seconds' worth of requests a limiter may accept at once before refusing (default 1)
    workers: concurrent keep-alive connections for the burst (default 8)
    cooldown_s: pause after the burst before checking health (default 1.5)
    """
    ep = _endpoint(ctx)
    if isinstance(ep, CheckResult):
        return ep
    sample = _sample(ctx, 1)
    payload = ep.payload(sample) if sample is not None else None
    total = math.ceil(rate * burst_factor)
    route = ep.infer_route if payload is not None else ep.model_routes[0][1]

    def send(http: Any) -> int:
        try:
            r = (http.post(route, json=payload, headers=ep.auth_headers()) if payload is not None
                 else http.get(route, headers=ep.auth_headers()))
            return r.status_code
        except Exception:  # noqa: BLE001 - no answer: counted as such
            return -1

    # past `burst_factor - burst_allowance_s` seconds, the `total` requests can no longer
    # exceed what the limit allows: stop sending, the burst is inconclusive
    burst = send_burst(ep, send, total=total, workers=workers, stop_after_s=burst_factor - burst_allowance_s,
                       deadline=ctx.deadline)
    counts: dict[str, int] = {}
    for c in burst.codes:
        counts[str(c)] = counts.get(str(c), 0) + 1
    limited = counts.get("429", 0)
    accepted = sum(v for k, v in counts.items() if k.startswith("2"))
    errors = sum(v for k, v in counts.items() if k.startswith("5") or k == "-1")
    allowed = rate * (burst.seconds + burst_allowance_s)
    evidence: dict[str, Any] = {
        "requests": burst.sent, "planned": total, "seconds": round(burst.seconds, 3),
        "sent_per_s": round(burst.rate, 2), "declared_per_s": rate, "accepted": accepted,
        "rejected_429": limited, "most_the_limit_allows": round(allowed, 1), "status_counts": counts,
        "workers": workers}
    if burst.sent <= allowed:
        return CheckResult(
            status="error", evidence=evidence,
            metrics={"sent_per_s": burst.rate, "requests": float(burst.sent)},
            message=f"could not exceed the limit: sent {burst.rate:.1f}/s ({burst.sent} requests in "
                    f"{burst.seconds:.2f}s) against a limit of {rate:g}/s, which may accept {allowed:.0f} "
                    f"in that time; nothing is known about the server's limit (a slow endpoint or a busy "
                    f"machine: raise `workers`, or run the check where the client can outpace the limit)")
    ctx.deadline.sleep(cooldown_s)
    with ep.client() as http:
        try:
            ready = http.get("/v2/health/ready").status_code == 200 if ep.protocol == "oip-v2" else True
            after = send(http)
        except Exception:  # noqa: BLE001 - not answering after the burst: unhealthy
            ready, after = False, -1
    evidence.update(status_after=after, ready_after=ready)
    healthy = float(ready and after == 200)
    excess = max(0.0, accepted - allowed)
    return judge({"rejected_429": float(limited), "accepted_over_limit": excess, "server_errors": float(errors),
                  "healthy_after": healthy, "sent_per_s": burst.rate},
                 {"rejected_429": (">=", 1.0), "accepted_over_limit": ("<=", 0.0), "server_errors": ("<=", 0.0),
                  "healthy_after": (">=", 1.0)},
                 detail=f"sent {burst.sent} requests at {burst.rate:.1f}/s against a declared {rate:g}/s: "
                        f"{accepted} accepted (the limit allows {allowed:.0f}), {limited} refused with 429; "
                        f"after: {after}",
                 evidence=evidence)
