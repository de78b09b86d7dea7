"""Serving an ONNX artifact: metadata, session and load errors (no scikit-learn here)."""

from mlops.inference.exceptions import ArtifactIntegrityError, ModelLoadError
from mlops.inference.metadata import (
    CATEGORICAL_INPUT,
    METADATA_KEY,
    NUMERIC_INPUT,
    ModelMetadata,
)
from mlops.inference.session import OnnxModel, Prediction, session_options

__all__ = [
    "CATEGORICAL_INPUT",
    "METADATA_KEY",
    "NUMERIC_INPUT",
    "ArtifactIntegrityError",
    "ModelLoadError",
    "ModelMetadata",
    "OnnxModel",
    "Prediction",
    "session_options",
]
