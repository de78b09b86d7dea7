"""What an ONNX artifact says about itself, stored in its metadata under one key.

The handler uses only this map to turn named request fields into tensors (DESIGN §7: the ONNX
input names are ours), so a model carries everything needed to serve it.

A frozen dataclass checked by hand, not a pydantic model: the predict function reads it at
every cold start, and keeping pydantic off that path saves ~150 ms there (with the registry's
serving view and the spec's sample rate; benchmarks/results/latest.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

METADATA_KEY = "serverless_mlops"
NUMERIC_INPUT = "numeric"
CATEGORICAL_INPUT = "categorical"
TASKS = ("classification", "regression")


class MetadataError(ValueError):
    """The artifact's metadata is missing a field or has one of the wrong shape."""


@dataclass(frozen=True)
class ModelMetadata:
    """Feature-to-tensor map, task, classes and output names of one ONNX artifact."""

    model_name: str
    task: str
    numeric_features: list[str]
    categorical_features: list[str]
    spec_hash: str
    classes: list[str] | list[int] = field(default_factory=list)
    label_output: str = "label"
    probabilities_output: str = "probabilities"
    value_output: str = "variable"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise MetadataError(f"task must be one of {TASKS}, got {self.task!r}")
        for name in (
            "model_name",
            "spec_hash",
            "label_output",
            "probabilities_output",
            "value_output",
        ):
            _require(isinstance(getattr(self, name), str), f"{name} must be a string")
        for name in ("numeric_features", "categorical_features"):
            value = getattr(self, name)
            _require(
                isinstance(value, list) and all(isinstance(item, str) for item in value),
                f"{name} must be a list of strings",
            )
        _require(
            isinstance(self.classes, list)
            and (
                all(type(item) is str for item in self.classes)
                or all(type(item) is int for item in self.classes)
            ),
            "classes must be a list of strings or a list of integers",
        )

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        """Validate a decoded metadata document: unknown or missing fields are errors."""
        if not isinstance(data, dict):
            raise MetadataError("metadata must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MetadataError(f"unknown metadata field(s): {unknown}")
        try:
            return cls(**data)
        except TypeError as error:  # a required field is missing
            raise MetadataError(str(error)) from error

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as error:
            raise MetadataError(f"metadata is not JSON: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise MetadataError(message)
