"""Bearer-token checks shared by `mlqa serve`, the stack's gateway and its control plane."""
from __future__ import annotations

import hmac


def bearer_matches(header: str, *secrets: str | None) -> bool:
    """Whether an Authorization header is `Bearer <one of secrets>` (constant-time compare;
    a None secret matches nothing)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = value.strip().encode()
    return any(s is not None and hmac.compare_digest(given, s.encode()) for s in secrets)
