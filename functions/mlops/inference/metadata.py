"""What an ONNX artifact says about itself, stored in its metadata under one key.

The handler uses only this map to turn named request fields into tensors (DESIGN §7: the ONNX
input names are ours), so a model carries everything needed to serve it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

METADATA_KEY = "serverless_mlops"
NUMERIC_INPUT = "numeric"
CATEGORICAL_INPUT = "categorical"


class ModelMetadata(BaseModel):
    """Feature-to-tensor map, task, classes and output names of one ONNX artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str
    task: Literal["classification", "regression"]
    numeric_features: list[str]
    categorical_features: list[str]
    classes: list[str] | list[int] = []
    label_output: str = "label"
    probabilities_output: str = "probabilities"
    value_output: str = "variable"
    spec_hash: str
