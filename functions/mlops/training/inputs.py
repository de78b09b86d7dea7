"""The fitted pipeline's input layout, apart from the pipeline's construction.

numpy only: the benchmarks' scikit-learn twin of the predict handler builds the same input
without importing the training pipeline module (scikit-learn's transformers, the spec models).
"""

from __future__ import annotations

import numpy as np


def model_input(numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """The pipeline's input: numerics (rounded to float32, as onnxruntime will see them) and
    categoricals side by side in one object array."""
    as_float32 = numeric.astype(np.float32).astype(np.float64)
    if categorical.shape[1] == 0:
        return as_float32
    return np.concatenate([as_float32.astype(object), categorical.astype(object)], axis=1)
