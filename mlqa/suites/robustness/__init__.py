"""Robustness suite: noise, missing features, invariances, monotonicity, property-based
search for flipping perturbations, and edge inputs. Every check predicts in batches and
reports its predict calls and rows."""
from ._edge import edge_inputs
from ._invariance import invariance, monotonic
from ._noise import missing, noise
from ._search import search

__all__ = ["noise", "missing", "invariance", "monotonic", "search", "edge_inputs"]
