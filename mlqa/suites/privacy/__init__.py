"""Privacy suite: membership inference audit and personal-data scan."""
from ._membership import membership_inference
from ._pii import pii

__all__ = ["membership_inference", "pii"]
