"""Security suite: model files (static allowlist scan) and the serving endpoint (auth,
malformed input, rate limit)."""
from ._endpoint import endpoint_auth, endpoint_input, endpoint_rate_limit
from ._model_file import model_file

__all__ = ["model_file", "endpoint_auth", "endpoint_input", "endpoint_rate_limit"]
