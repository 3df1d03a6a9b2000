"""Latency and cost suite."""
from ._inference import inference
from ._load import load

__all__ = ["inference", "load"]
