"""Latency and cost suite."""
from ._inference import inference

__all__ = ["inference"]
