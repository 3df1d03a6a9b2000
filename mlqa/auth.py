"""Bearer-token checks shared by `mlqa serve`, the stack's gateway and its control plane."""
from __future__ import annotations

import hmac
from collections.abc import Mapping


def bearer_token(header: str) -> str | None:
    """The credential of an Authorization header `Bearer <token>`, None when the header is
    not one. The scheme is case-insensitive and any run of spaces or tabs separates it from
    the token (RFC 9110 §11.1); a token with whitespace inside is not a bearer token."""
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    return token if token and not any(c.isspace() for c in token) else None


def principal(header: str, secrets: Mapping[str, str | None]) -> str | None:
    """The name of the secret an Authorization header carries (`secrets`: name -> secret; a
    None secret matches nothing), or None. Every secret is compared in constant time, so
    neither the answer's timing nor its order tells which one came close."""
    token = bearer_token(header)
    if token is None:
        return None
    given = token.encode()
    found = None
    for name, secret in secrets.items():
        if secret is not None and hmac.compare_digest(given, secret.encode()) and found is None:
            found = name
    return found


def bearer_matches(header: str, *secrets: str | None) -> bool:
    """Whether an Authorization header is `Bearer <one of secrets>` (constant-time compare;
    a None secret matches nothing)."""
    return principal(header, {str(i): s for i, s in enumerate(secrets)}) is not None
