"""Converts a fitted pipeline to ONNX and proves it answers like scikit-learn.

Parity is checked on the held-out split: a model whose ONNX form disagrees with the fitted
pipeline beyond the tolerance fails the run rather than serving different answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from mlops.inference import (
    CATEGORICAL_INPUT,
    METADATA_KEY,
    NUMERIC_INPUT,
    ModelMetadata,
)
from mlops.inference.session import OnnxModel
from mlops.spec import ModelSpec

# Classification: max |p_onnx - p_sklearn| over all rows and classes. Regression: relative to
# max(1, |y|). Measured on the shipped examples: about 1e-7 (float32 vs float64 arithmetic).
PROBABILITY_TOLERANCE = 1e-4
REGRESSION_RELATIVE_TOLERANCE = 1e-4
TARGET_OPSET = 17


class ParityError(RuntimeError):
    """The ONNX model does not reproduce the scikit-learn pipeline within tolerance."""


@dataclass(frozen=True)
class ParityReport:
    max_abs_difference: float
    label_agreement: float
    tolerance: float
    rows: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "max_abs_difference": self.max_abs_difference,
            "label_agreement": self.label_agreement,
            "tolerance": self.tolerance,
            "rows": self.rows,
        }


def convert_to_onnx(pipeline: Pipeline, spec: ModelSpec, classes: list[Any]) -> bytes:
    """ONNX bytes with float32 `numeric` and string `categorical` inputs, probabilities as a
    plain tensor (no ZipMap) and the serving metadata embedded."""
    inputs: list[tuple[str, Any]] = []
    if spec.numeric_features:
        inputs.append((NUMERIC_INPUT, FloatTensorType([None, len(spec.numeric_features)])))
    if spec.categorical_features:
        inputs.append((CATEGORICAL_INPUT, StringTensorType([None, len(spec.categorical_features)])))
    options: dict[Any, Any] = {}
    if spec.task == "classification":
        options = {id(pipeline.steps[-1][1]): {"zipmap": False}}
    model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options=options,
        target_opset={"": TARGET_OPSET, "ai.onnx.ml": 3},
    )
    metadata = ModelMetadata(
        model_name=spec.name,
        task=spec.task,
        numeric_features=[f.name for f in spec.numeric_features],
        categorical_features=[f.name for f in spec.categorical_features],
        classes=classes,
        spec_hash=spec.spec_hash(),
    )
    onnx.helper.set_model_props(model, {METADATA_KEY: metadata.to_json()})
    # skl2onnx names the graph with a random uuid: three conversions of one pipeline gave three
    # sha256. A fixed name makes the bytes a function of file, spec and code (lineage).
    model.graph.name = spec.name
    model.producer_name = "serverless-mlops"
    model.doc_string = json.dumps({"model": spec.name})
    return bytes(model.SerializeToString())


def check_parity(
    pipeline: Pipeline,
    model: OnnxModel,
    x_model: np.ndarray,
    numeric: np.ndarray,
    categorical: np.ndarray,
) -> ParityReport:
    """Compare ONNX and scikit-learn on the same rows; ParityError beyond tolerance."""
    onnx_prediction = model.predict(numeric.astype(np.float32), categorical)
    rows = int(numeric.shape[0])
    if model.metadata.task == "classification":
        assert onnx_prediction.probabilities is not None
        expected = pipeline.predict_proba(x_model)
        difference = float(np.max(np.abs(onnx_prediction.probabilities - expected)))
        expected_labels = pipeline.predict(x_model)
        agreement = float(
            np.mean(onnx_prediction.outputs.astype(str) == expected_labels.astype(str))
        )
        report = ParityReport(difference, agreement, PROBABILITY_TOLERANCE, rows)
        # A label may only differ where the top two probabilities tie within tolerance.
        sorted_probabilities = np.sort(expected, axis=1)
        near_tie = (
            (sorted_probabilities[:, -1] - sorted_probabilities[:, -2] <= PROBABILITY_TOLERANCE)
            if expected.shape[1] > 1
            else np.zeros(rows, bool)
        )
        disagree = onnx_prediction.outputs.astype(str) != expected_labels.astype(str)
        if difference > PROBABILITY_TOLERANCE or np.any(disagree & ~near_tie):
            raise ParityError(
                f"ONNX probabilities differ from scikit-learn by up to "
                f"{difference:.2e} (tolerance {PROBABILITY_TOLERANCE:.0e}); labels "
                f"agree on {agreement:.2%} of {rows} held-out rows"
            )
        return report
    expected_values = pipeline.predict(x_model).astype(np.float64)
    scale = np.maximum(1.0, np.abs(expected_values))
    relative = float(np.max(np.abs(onnx_prediction.outputs - expected_values) / scale))
    report = ParityReport(relative, 1.0, REGRESSION_RELATIVE_TOLERANCE, rows)
    if relative > REGRESSION_RELATIVE_TOLERANCE:
        raise ParityError(
            f"ONNX predictions differ from scikit-learn by up to {relative:.2e} "
            f"(relative; tolerance {REGRESSION_RELATIVE_TOLERANCE:.0e}) on {rows} "
            "held-out rows"
        )
    return report
