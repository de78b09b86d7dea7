"""Serving an ONNX artifact: metadata, session and load errors (no scikit-learn here).

The session module (onnxruntime) is not imported by this package: import `OnnxModel` and
`Prediction` from `mlops.inference.session` where a model is loaded, so that code which only
needs the metadata or the errors (the registry, the serving runtime before it loads) does not
pay onnxruntime's import.
"""

from mlops.inference.exceptions import ArtifactIntegrityError, ModelLoadError
from mlops.inference.metadata import (
    CATEGORICAL_INPUT,
    METADATA_KEY,
    NUMERIC_INPUT,
    ModelMetadata,
)

__all__ = [
    "CATEGORICAL_INPUT",
    "METADATA_KEY",
    "NUMERIC_INPUT",
    "ArtifactIntegrityError",
    "ModelLoadError",
    "ModelMetadata",
]
