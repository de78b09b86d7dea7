"""DynamoDB attribute values <-> the JSON-shaped values the registry stores.

Why not boto3's TypeSerializer/TypeDeserializer: importing anything under `boto3` imports
boto3's package, which imports s3transfer; together ~130 ms of the predict function's cold
start on this project's machine, for a function that otherwise needs only botocore
(benchmarks/results/latest.md). The registry stores JSON documents (strings, numbers, booleans,
null, lists, maps), which take the six attribute types below; a unit test checks this against
boto3's converters on the registry's real records.

Numbers come back as `int` when integral, else `float` (what the registry did with boto3's
Decimals); NaN and infinities cannot be stored (the caller maps them to null first).
"""

from __future__ import annotations

import math
from typing import Any


class UnsupportedAttributeError(TypeError):
    """A value or attribute type outside the registry's JSON-shaped documents."""


def to_attribute(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (`{"S": ...}`, `{"N": ...}`, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedAttributeError(f"DynamoDB cannot store {value}")
        return {"N": repr(value)}
    if isinstance(value, dict):
        return {"M": {str(key): to_attribute(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    raise UnsupportedAttributeError(f"cannot store a {type(value).__name__} in the registry")


def from_attribute(attribute: dict[str, Any]) -> Any:
    """One DynamoDB attribute value as a plain Python value."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: from_attribute(item) for key, item in value.items()}
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "SS":
        return list(value)
    if kind == "NS":
        return [_number(item) for item in value]
    raise UnsupportedAttributeError(f"attribute type {kind} is not used by the registry")


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = float(text)
        return int(number) if number.is_integer() else number
