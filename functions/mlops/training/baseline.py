"""The drift baseline: what the training data and the model's predictions looked like.

The drift slice compares captured traffic with this: per numeric feature, quantile bin edges
with the share of training rows in each bin (for PSI) plus summary statistics (for KS against a
stored sample); per categorical feature, category frequencies; and the distribution of the
model's predictions on the held-out split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.spec import ModelSpec

QUANTILE_BINS = 10
SAMPLE_SIZE = 500


def _numeric_profile(values: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    present = values[np.isfinite(values)]
    if present.size == 0:
        return {"type": "numeric", "missing_fraction": 1.0, "bin_edges": [], "proportions": []}
    inner = np.unique(np.quantile(present, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1]))
    edges = [-np.inf, *inner.tolist(), np.inf]
    counts, _ = np.histogram(present, bins=edges)
    sample = rng.choice(present, size=min(SAMPLE_SIZE, present.size), replace=False)
    return {
        "type": "numeric",
        "missing_fraction": float(1 - present.size / values.size),
        "bin_edges": [float(edge) if np.isfinite(edge) else None for edge in edges],
        "proportions": (counts / counts.sum()).tolist(),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(present.min()),
        "max": float(present.max()),
        "sample": sorted(float(v) for v in sample),
    }


def _categorical_profile(values: np.ndarray, categories: list[str]) -> dict[str, Any]:
    total = max(values.size, 1)
    return {
        "type": "categorical",
        "frequencies": {c: float(np.sum(values == c) / total) for c in categories},
    }


def build_baseline(
    spec: ModelSpec,
    numeric: np.ndarray,
    categorical: np.ndarray,
    predictions: np.ndarray,
    classes: list[Any],
) -> dict[str, Any]:
    """The baseline document (JSON-serialisable); `None` bin edges stand for -inf/+inf."""
    rng = np.random.default_rng(spec.split.seed)
    features: dict[str, Any] = {}
    for index, feature in enumerate(spec.numeric_features):
        features[feature.name] = _numeric_profile(numeric[:, index], rng)
    for index, feature in enumerate(spec.categorical_features):
        features[feature.name] = _categorical_profile(
            categorical[:, index], list(feature.categories or [])
        )
    if spec.task == "classification":
        labels = predictions.astype(str)
        prediction: dict[str, Any] = {
            "type": "classification",
            "class_frequencies": {str(c): float(np.mean(labels == str(c))) for c in classes},
        }
    else:
        prediction = _numeric_profile(predictions.astype(np.float64), rng)
    return {
        "model": spec.name,
        "rows": int(numeric.shape[0]),
        "features": features,
        "prediction": prediction,
    }
