"""Security suite: the serving endpoint (auth, malformed input, rate limit)."""
from ._endpoint import endpoint_auth, endpoint_input, endpoint_rate_limit

__all__ = ["endpoint_auth", "endpoint_input", "endpoint_rate_limit"]
