"""Builds the scikit-learn Pipeline a spec describes.

The pipeline's input is one object array: numeric columns first (spec order), then
categoricals. Columns are selected by position, not name, so the ONNX graph can take two
tensors of our own naming (`numeric` float32, `categorical` string) whatever the user's column
names are (skl2onnx maps positions across inputs; DESIGN §7).
"""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops.spec import ESTIMATORS, ModelSpec, SpecError
from mlops.training.inputs import model_input

__all__ = ["build_estimator", "build_pipeline", "model_input"]


def build_estimator(spec: ModelSpec) -> Any:
    """The allow-listed estimator with the spec's hyper-parameters; SpecError on a bad name."""
    entry = ESTIMATORS[spec.estimator.name]
    estimator_class = entry.load_class()
    valid = set(estimator_class().get_params())
    unknown = sorted(set(spec.estimator.params) - valid)
    if unknown:
        raise SpecError(
            f"model '{spec.name}': {entry.class_name} has no parameter(s) {unknown}; "
            f"valid: {sorted(valid)}"
        )
    params = dict(spec.estimator.params)
    if "random_state" in valid and "random_state" not in params:
        # A forest without a seed draws a new one per fit: the same file, spec and code would
        # give different models (and artifact sha256). The split's seed stands in.
        params["random_state"] = spec.split.seed
    try:
        return estimator_class(**params)
    except (TypeError, ValueError) as error:
        raise SpecError(f"model '{spec.name}': bad estimator params: {error}") from error


def build_pipeline(spec: ModelSpec) -> Pipeline:
    """Impute (+ scale for linear models) numerics, one-hot categoricals, then the estimator."""
    entry = ESTIMATORS[spec.estimator.name]
    numeric_count = len(spec.numeric_features)
    categorical_count = len(spec.categorical_features)
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if entry.needs_scaling:
        numeric_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, list[int]]] = []
    if numeric_count:
        transformers.append(("numeric", Pipeline(numeric_steps), list(range(numeric_count))))
    if categorical_count:
        categories = [list(feature.categories or []) for feature in spec.categorical_features]
        transformers.append(
            (
                "categorical",
                OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False),
                list(range(numeric_count, numeric_count + categorical_count)),
            )
        )
    return Pipeline(
        [("preprocess", ColumnTransformer(transformers)), ("estimator", build_estimator(spec))]
    )
