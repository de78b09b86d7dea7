"""A reference for versions trained before training columns were stored: from baseline.json.

Such a baseline keeps 500 values per numeric feature and category frequencies; the check still
runs on them, says so (`reference_kind="baseline_sample"`), and its `detectable_effect` shows
how much the small reference costs (0.3 sd at best, however large the window).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.drift.columns import Columns
from mlops.spec import ModelSpec


def reference_from_baseline(
    baseline: dict[str, Any], spec: ModelSpec
) -> tuple[Columns, np.ndarray | None]:
    """(feature columns, predictions or None) rebuilt from a baseline document.

    Categorical counts are the frequencies times the training rows, rounded; predicted classes
    use the held-out share of the rows (the baseline's predictions are on the held-out split).
    """
    rows = int(baseline.get("rows", 0))
    profiles = baseline.get("features", {})
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    for feature in spec.numeric_features:
        profile = profiles.get(feature.name) or {}
        if "sample" in profile:
            numeric[feature.name] = np.asarray(profile["sample"], np.float64)
    for feature in spec.categorical_features:
        profile = profiles.get(feature.name) or {}
        if "frequencies" in profile:
            categorical[feature.name] = _expand(profile["frequencies"], rows)
    prediction = baseline.get("prediction") or {}
    predictions: np.ndarray | None = None
    if "class_frequencies" in prediction:
        held_out = max(1, round(rows * spec.split.test_fraction))
        predictions = _expand(prediction["class_frequencies"], held_out)
    elif "sample" in prediction:
        predictions = np.asarray(prediction["sample"], np.float64)
    return Columns(numeric, categorical), predictions


def _expand(frequencies: dict[str, float], rows: int) -> np.ndarray:
    names = list(frequencies)
    counts = [round(float(frequencies[name]) * rows) for name in names]
    return np.repeat(np.array(names, dtype=object), counts)
