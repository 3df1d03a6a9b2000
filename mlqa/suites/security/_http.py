"""The endpoint subject as the security checks use it: routes, credentials, valid payloads."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from ...subjects import CheckContext

LEAKS = (re.compile(r"Traceback \(most recent call last\)"), re.compile(r'File "[^"]+", line \d+'),
         re.compile(r"(?:/usr|/home|/opt|/var|/tmp|/root|/srv|/app|[A-Z]:\\)[\w/\\.-]*\.py"),
         re.compile(r"site-packages"))


@dataclass(frozen=True)
class Endpoint:
    url: str
    protocol: str
    model: str
    header: str
    scheme: str
    token: str | None
    timeout: float

    @classmethod
    def from_context(cls, ctx: CheckContext, token_env: str | None = None) -> "Endpoint":
        """The context's endpoint; `token_env` names a variable holding another credential
        to use instead of endpoint.auth.token_env's (a load generator's, say)."""
        e = ctx.endpoint or {}
        auth = e.get("auth") or {}
        token = None
        var, where = (token_env, "the check's token_env") if token_env else (auth.get("token_env"),
                                                                              "endpoint.auth.token_env")
        if var:
            token = os.environ.get(var)
            if not token:
                raise LookupError(f"environment variable {var} ({where}) is not set")
        return cls(url=e["url"].rstrip("/"), protocol=e.get("protocol", "oip-v2"), model=e.get("model", "model"),
                   header=auth.get("header", "Authorization"), scheme=auth.get("scheme", "Bearer"), token=token,
                   timeout=float(e.get("timeout", 5.0)))

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        token = self.token if token is None else token
        if not token:
            return {}
        return {self.header: f"{self.scheme} {token}" if self.scheme else token}

    @property
    def model_routes(self) -> list[tuple[str, str]]:
        if self.protocol == "json":
            return [("POST", "/predict")]
        m = self.model
        return [("GET", f"/v2/models/{m}"), ("GET", f"/v2/models/{m}/ready"), ("POST", f"/v2/models/{m}/infer")]

    @property
    def infer_route(self) -> str:
        return "/predict" if self.protocol == "json" else f"/v2/models/{self.model}/infer"

    health_routes = (("GET", "/v2/health/live"), ("GET", "/v2/health/ready"))

    def payload(self, frame: Any) -> dict:
        """A valid request for the rows of `frame` in this endpoint's protocol."""
        records = json.loads(frame.to_json(orient="records"))
        if self.protocol == "json":
            return {"instances": records}
        cols = list(frame.columns)
        inputs = []
        for c in cols:
            values = [r[c] for r in records]
            numeric = all(isinstance(v, (int, float)) or v is None for v in values)
            inputs.append({"name": c, "shape": [len(values)], "datatype": "FP64" if numeric else "BYTES",
                           "data": values})
        return {"inputs": inputs}


def leaks(body: str, secret: str | None) -> str | None:
    for pattern in LEAKS:
        m = pattern.search(body)
        if m:
            return f"response leaks `{m.group(0)[:60]}`"
    if secret and secret in body:
        return "response leaks the credential"
    return None


def client(endpoint: Endpoint):
    import httpx
    return httpx.Client(base_url=endpoint.url, timeout=endpoint.timeout)
