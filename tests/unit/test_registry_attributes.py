"""The registry's DynamoDB attribute codec agrees with boto3's converters on its documents."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from mlops.registry.attributes import UnsupportedAttributeError, from_attribute, to_attribute

DOCUMENT: dict[str, Any] = {
    "pk": "MODEL#iris",
    "version": 12,
    "status": "production",
    "notified": True,
    "finished_at": None,
    "metrics": {"f1_macro": 0.9473684210526315, "accuracy": 1.0, "tiny": 1e-07, "big": 3.5e20},
    "classes": ["setosa", "versicolor", "virginica"],
    "feature_schema": [
        {"name": "sepal length (cm)", "type": "numeric", "min": 4.3, "max": 7.9},
        {"name": "colour", "type": "categorical", "categories": ["é", "ü", ""]},
    ],
    "problems": [],
    "lease_until": 1795438112,
    "negative": -42,
    "nested": {"deep": [[1, 2.5], {"x": None}]},
}


def _boto3_plain(value: Any) -> Any:
    """What the registry read back when it used boto3's Decimals."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _boto3_plain(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [_boto3_plain(item) for item in value]
    return value


@pytest.mark.parametrize(("key", "value"), sorted(DOCUMENT.items()))
def test_round_trip_and_boto3_agree(key: str, value: Any) -> None:
    ours = to_attribute(value)
    theirs = TypeSerializer().serialize(json.loads(json.dumps(value), parse_float=Decimal))
    assert from_attribute(ours) == value
    # Each side reads what the other wrote, to the same values.
    assert from_attribute(theirs) == value
    assert _boto3_plain(TypeDeserializer().deserialize(ours)) == value


def test_values_outside_json_are_refused() -> None:
    for value in (float("nan"), float("inf"), {1, 2}, b"bytes"):
        with pytest.raises(UnsupportedAttributeError):
            to_attribute(value)
    with pytest.raises(UnsupportedAttributeError):
        from_attribute({"B": b"x"})
