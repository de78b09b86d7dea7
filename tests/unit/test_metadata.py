"""An artifact's metadata is checked when a model loads: wrong shapes are load errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.inference.metadata import MetadataError, ModelMetadata

VALID: dict[str, Any] = {
    "model_name": "iris",
    "task": "classification",
    "numeric_features": ["a", "b"],
    "categorical_features": [],
    "classes": ["setosa", "virginica"],
    "spec_hash": "f" * 64,
}


def test_round_trip_through_json() -> None:
    metadata = ModelMetadata.from_json(json.dumps(VALID))
    assert metadata.classes == ["setosa", "virginica"] and metadata.label_output == "label"
    assert ModelMetadata.from_json(metadata.to_json()) == metadata


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"classes": ["a", 1]}, "classes must be a list of strings or a list of integers"),
        ({"numeric_features": "a,b"}, "numeric_features must be a list of strings"),
        ({"surprise": 1}, "unknown metadata field"),
        ({"spec_hash": None}, "spec_hash must be a string"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.from_dict({**VALID, **change})


def test_missing_field_and_non_object() -> None:
    with pytest.raises(MetadataError, match="model_name"):
        ModelMetadata.from_dict({k: v for k, v in VALID.items() if k != "model_name"})
    with pytest.raises(MetadataError, match="JSON object"):
        ModelMetadata.from_json("[1, 2]")
    with pytest.raises(MetadataError, match="not JSON"):
        ModelMetadata.from_json("{")
