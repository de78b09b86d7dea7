"""The allow-list of scikit-learn estimators a spec may name.

A spec names an estimator by a short key, never by an import path: only estimators that
skl2onnx converts and that a test proves (train -> convert -> parity) are listed. Each entry
also says whether the estimator needs feature scaling: tree ensembles must not be scaled,
because scaling in float64 (scikit-learn) vs float32 (onnxruntime) moves values across split
thresholds and breaks parity (DESIGN §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class EstimatorEntry:
    """One allowed estimator: where it lives, which task it solves, what preprocessing it needs."""

    key: str
    module: str
    class_name: str
    task: Task
    needs_scaling: bool

    def load_class(self) -> type[Any]:
        """Import the estimator class lazily: the inference function never imports sklearn."""
        return getattr(import_module(self.module), self.class_name)


_ENTRIES = [
    EstimatorEntry(
        "logistic_regression", "sklearn.linear_model", "LogisticRegression", "classification", True
    ),
    EstimatorEntry(
        "random_forest_classifier",
        "sklearn.ensemble",
        "RandomForestClassifier",
        "classification",
        False,
    ),
    EstimatorEntry(
        "extra_trees_classifier",
        "sklearn.ensemble",
        "ExtraTreesClassifier",
        "classification",
        False,
    ),
    EstimatorEntry(
        "gradient_boosting_classifier",
        "sklearn.ensemble",
        "GradientBoostingClassifier",
        "classification",
        False,
    ),
    EstimatorEntry(
        "hist_gradient_boosting_classifier",
        "sklearn.ensemble",
        "HistGradientBoostingClassifier",
        "classification",
        False,
    ),
    EstimatorEntry(
        "decision_tree_classifier",
        "sklearn.tree",
        "DecisionTreeClassifier",
        "classification",
        False,
    ),
    EstimatorEntry(
        "linear_regression", "sklearn.linear_model", "LinearRegression", "regression", True
    ),
    EstimatorEntry("ridge", "sklearn.linear_model", "Ridge", "regression", True),
    EstimatorEntry(
        "random_forest_regressor", "sklearn.ensemble", "RandomForestRegressor", "regression", False
    ),
    EstimatorEntry(
        "extra_trees_regressor", "sklearn.ensemble", "ExtraTreesRegressor", "regression", False
    ),
    EstimatorEntry(
        "gradient_boosting_regressor",
        "sklearn.ensemble",
        "GradientBoostingRegressor",
        "regression",
        False,
    ),
    EstimatorEntry(
        "hist_gradient_boosting_regressor",
        "sklearn.ensemble",
        "HistGradientBoostingRegressor",
        "regression",
        False,
    ),
    EstimatorEntry(
        "decision_tree_regressor", "sklearn.tree", "DecisionTreeRegressor", "regression", False
    ),
]

ESTIMATORS: dict[str, EstimatorEntry] = {entry.key: entry for entry in _ENTRIES}
