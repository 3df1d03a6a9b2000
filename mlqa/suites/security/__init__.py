"""Security suite: trivy scans (filesystem, image, IaC configuration, SBOM), model files
(static allowlist scan) and the serving endpoint (auth, malformed input, rate limit)."""
from ._endpoint import endpoint_auth, endpoint_input, endpoint_rate_limit
from ._model_file import model_file
from ._trivy import trivy_config, trivy_fs, trivy_image, trivy_sbom

__all__ = ["model_file", "endpoint_auth", "endpoint_input", "endpoint_rate_limit", "trivy_fs",
           "trivy_config", "trivy_image", "trivy_sbom"]
