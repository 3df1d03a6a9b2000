"""Latency and cost suite: in-process inference, load, capacity and cost per prediction."""
from ._capacity import capacity
from ._cost import per_1k_predictions
from ._inference import inference
from ._load import load

__all__ = ["capacity", "inference", "load", "per_1k_predictions"]
