"""Latency suite: in-process inference, load on the endpoint and its capacity. The capacity
measurement is shared with the cost suite (`CapacitySettings`, `measured`)."""
from ._capacity import CapacitySettings, capacity, capacity_chart, measured, probe_table
from ._inference import inference
from ._load import load

__all__ = ["CapacitySettings", "capacity", "capacity_chart", "inference", "load", "measured", "probe_table"]
