"""Data suite: schema, hygiene (single values, mixed nulls and types, special characters,
string variants, outliers), duplicates and train/test overlap (exact and near, identifiers
excluded), identifiers, label leakage, conflicting labels, per-feature, joint and label
drift, new categories and feature-label correlation change."""
from ._quality import duplicates, missing, train_test_overlap
from ._schema import schema
from ._drift import categorical_counts, drift, psi
from ._leakage import label_leakage
from ._multivariate import multivariate_drift
from ._identifiers import identifier_columns, identifiers
from ._hygiene import mixed_nulls, single_value
from ._integrity import conflicting_labels, mixed_types, outliers, special_characters, string_mismatch
from ._train_test import feature_label_correlation_change, label_drift, new_categories

__all__ = ["schema", "missing", "duplicates", "label_leakage", "drift", "train_test_overlap", "identifier_columns", "identifiers",
           "label_drift", "new_categories", "feature_label_correlation_change",
           "conflicting_labels", "mixed_types", "outliers", "special_characters", "string_mismatch",
           "single_value", "mixed_nulls", "multivariate_drift",
           "psi", "categorical_counts"]
