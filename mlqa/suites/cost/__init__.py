"""Cost suite: what serving a prediction costs at the capacity the latency suite measures."""
from ._per_1k import per_1k_predictions

__all__ = ["per_1k_predictions"]
