"""The scikit-learn twin of `OnnxModel`, for the handler-vs-handler comparisons.

Stands in for `OnnxModel` in the serving runtime: same `predict` contract, the fitted
scikit-learn pipeline inside. Imports nothing a scikit-learn handler would not (no
onnxruntime), so the cold-start twin measures what such a handler pays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.inference.prediction import Prediction
from mlops.training.inputs import model_input


class SklearnModel:
    """`predict_proba` once, labels by argmax over `classes_` (what the classifiers' `predict`
    does), so the scikit-learn handler does not pay for two model passes."""

    def __init__(self, pipeline: Any, metadata: Any) -> None:
        self.pipeline = pipeline
        self.metadata = metadata
        self.classes = np.asarray(pipeline.classes_)

    def predict(self, numeric: np.ndarray, categorical: np.ndarray) -> Prediction:
        probabilities = self.pipeline.predict_proba(model_input(numeric, categorical))
        # float32 like onnxruntime's, so both handlers serialise the same kind of numbers.
        return Prediction(
            outputs=self.classes[probabilities.argmax(axis=1)],
            probabilities=probabilities.astype(np.float32),
        )
