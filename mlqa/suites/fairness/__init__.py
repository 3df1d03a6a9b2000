"""Fairness suite: demographic parity, equalized odds, equal opportunity, group performance.

Per-group rates come from fairlearn's `MetricFrame`; bootstrap intervals of each
difference reuse the suite-wide weighted metrics (one vectorised pass per replicate set).
Several sensitive columns mean intersectional groups (``Female|Black``).
"""
from ._checks import demographic_parity, equal_opportunity, equalized_odds, group_performance

__all__ = ["demographic_parity", "equal_opportunity", "equalized_odds", "group_performance"]
