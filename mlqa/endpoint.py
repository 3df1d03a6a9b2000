"""The HTTP client of a served model (`endpoint:` in mlqa.yaml, or any Open Inference
Protocol v2 / JSON server): its routes, its credential and valid payloads. The latency,
endpoint-security and cost checks, the load generator, the reference stack's measurements
and chaos probes all use it."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import httpx


@dataclass(frozen=True)
class Endpoint:
    """One served model: base URL, protocol (`oip-v2` or `json`), model name, credential
    and per-request timeout."""

    url: str
    protocol: str
    model: str
    header: str
    scheme: str
    token: str | None
    timeout: float

    @classmethod
    def from_config(cls, e: dict[str, Any], token_env: str | None = None) -> "Endpoint":
        """The client of a validated `endpoint:` section; `token_env` names a variable
        holding another credential to use instead of endpoint.auth.token_env's (a load
        generator's, say). Raises LookupError when the credential's variable is unset."""
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


    def client(self) -> "httpx.Client":
        """An httpx client with this endpoint's base URL and timeout (no credential: pass
        `headers=self.auth_headers()` where a request needs it)."""
        import httpx
        return httpx.Client(base_url=self.url, timeout=self.timeout)
