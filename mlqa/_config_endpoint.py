"""The `endpoint:` section (the served model the latency and endpoint checks call), and
`${VAR:-default}` expansion of the values that differ between CI environments."""
from __future__ import annotations

import os
import re
from typing import Any

from ._yaml import LocatedYaml

ENDPOINT_KEYS = ("url", "protocol", "model", "auth", "timeout", "replicas")
AUTH_KEYS = ("header", "token_env", "scheme")


def parse_endpoint(doc: LocatedYaml, value: Any) -> dict[str, Any] | None:
    from .config import _known_keys, _mapping
    if value is None:
        return None
    value = _mapping(doc, value, ("endpoint",), "url, protocol, model, auth")
    _known_keys(doc, value, ENDPOINT_KEYS, ("endpoint",))
    if not isinstance(value.get("url"), str):
        raise doc.error("`endpoint.url` is required (http://host:port)", "endpoint")
    value = {**value, "url": expand_env(doc, value["url"], "endpoint", "url")}
    if value.get("protocol", "oip-v2") not in ("oip-v2", "json"):
        raise doc.error("`endpoint.protocol` must be oip-v2 or json", "endpoint", "protocol")
    replicas = value.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise doc.error(f"`endpoint.replicas` must be a whole number of serving replicas, got {replicas!r}",
                        "endpoint", "replicas")
    auth = value.get("auth")
    if auth is not None:
        auth = _mapping(doc, auth, ("endpoint", "auth"), "header, token_env")
        if "token" in auth:
            raise doc.error("secrets are never written in mlqa.yaml", "endpoint", "auth", "token",
                            hint="name the environment variable that holds it: `token_env: MLQA_TOKEN`")
        _known_keys(doc, auth, AUTH_KEYS, ("endpoint", "auth"))
    return dict(value)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(doc: LocatedYaml, text: str, *path: str) -> str:
    """`${VAR}` and `${VAR:-default}` from the environment (endpoint.url and image only:
    what differs between CI environments)."""
    def one(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value:
            return value
        if m.group(2) is not None:
            return m.group(2)
        raise doc.error(f"environment variable {m.group(1)} is not set", *path,
                        hint=f"set it, or give a default: ${{{m.group(1)}:-http://127.0.0.1:8080}}")
    return _VAR.sub(one, text)
