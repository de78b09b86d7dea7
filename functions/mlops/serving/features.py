"""Turns named request rows into the model's tensors, checking each value against the schema
the serving version was trained with (names, types, bounds, allowed categories).

Hand-written rather than a per-row pydantic model: it runs on the hot path for up to 1,000
rows, and reports every violation with its row and field in one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.serving.errors import SchemaViolationError

MAX_REPORTED_VIOLATIONS = 20


@dataclass(frozen=True)
class NumericField:
    name: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class CategoricalField:
    name: str
    allowed: frozenset[str]


class FeatureSchema:
    """The serving version's features, in the model's input order."""

    def __init__(self, numeric: list[NumericField], categorical: list[CategoricalField]) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.names = frozenset(f.name for f in numeric) | frozenset(f.name for f in categorical)

    @classmethod
    def from_records(
        cls, schema: list[dict[str, Any]], numeric_order: list[str], categorical_order: list[str]
    ) -> FeatureSchema:
        """Build from a version's recorded feature schema, ordered as the ONNX inputs are."""
        by_name = {feature["name"]: feature for feature in schema}
        numeric = [
            NumericField(name, by_name.get(name, {}).get("min"), by_name.get(name, {}).get("max"))
            for name in numeric_order
        ]
        categorical = [
            CategoricalField(name, frozenset(by_name.get(name, {}).get("categories") or []))
            for name in categorical_order
        ]
        return cls(numeric, categorical)

    def to_tensors(self, instances: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """float32 numerics (NaN where null: imputed as in training) and string categoricals.

        Raises SchemaViolationError naming each offending row and field (first 20 shown).
        """
        rows = len(instances)
        numeric = np.empty((rows, len(self.numeric)), dtype=np.float32)
        categorical = np.empty((rows, len(self.categorical)), dtype=object)
        violations: list[dict[str, Any]] = []

        def violate(row: int, field: str | None, message: str) -> None:
            violations.append({"row": row, "field": field, "message": message})

        for row, instance in enumerate(instances):
            if not isinstance(instance, dict):
                violate(row, None, "each instance must be an object of feature values")
                continue
            for key in instance:
                if key not in self.names:
                    violate(row, str(key), "unknown feature")
            for column, spec in enumerate(self.numeric):
                value = instance.get(spec.name, _MISSING)
                if value is _MISSING:
                    violate(row, spec.name, "missing (send null to have it imputed)")
                elif value is None:
                    numeric[row, column] = np.nan
                elif isinstance(value, bool) or not isinstance(value, int | float):
                    violate(row, spec.name, f"expected a number, got {_describe(value)}")
                elif not math.isfinite(value) or abs(value) > 3.4e38:
                    violate(row, spec.name, "must be a finite float32 number")
                elif (spec.low is not None and value < spec.low) or (
                    spec.high is not None and value > spec.high
                ):
                    violate(row, spec.name, f"{value} is outside [{spec.low}, {spec.high}]")
                else:
                    numeric[row, column] = value
            for column, cat in enumerate(self.categorical):
                value = instance.get(cat.name, _MISSING)
                if value is _MISSING or value is None:
                    violate(row, cat.name, "missing")
                elif not isinstance(value, str):
                    violate(row, cat.name, f"expected a string, got {_describe(value)}")
                elif value not in cat.allowed:
                    violate(row, cat.name, f"'{value[:50]}' is not one of {sorted(cat.allowed)}")
                else:
                    categorical[row, column] = value
            if len(violations) >= MAX_REPORTED_VIOLATIONS:
                break
        if violations:
            first = violations[0]
            where = f"row {first['row']}" + (
                f", field '{first['field']}'" if first["field"] else ""
            )
            raise SchemaViolationError(
                f"{where}: {first['message']}", {"violations": violations[:MAX_REPORTED_VIOLATIONS]}
            )
        return numeric, categorical


class _Missing:
    pass


_MISSING = _Missing()


def _describe(value: Any) -> str:
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return kind.get(type(value), type(value).__name__)
