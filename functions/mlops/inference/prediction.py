"""What a model answers, whatever ran it (onnxruntime here; scikit-learn in the benchmarks)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Prediction(NamedTuple):
    """Labels (classification) or values (regression), with class probabilities if any
    (float32 from onnxruntime, float64 from scikit-learn).

    A NamedTuple rather than a frozen dataclass: built once per request on the hot path, and
    a third of the cost to construct."""

    outputs: np.ndarray
    probabilities: np.ndarray | None
