"""Data suite: schema, missing values, duplicates, label leakage, drift, train/test overlap."""
from ._quality import duplicates, missing, train_test_overlap
from ._schema import schema
from ._drift import drift
from ._leakage import label_leakage

__all__ = ["schema", "missing", "duplicates", "label_leakage", "drift", "train_test_overlap"]
