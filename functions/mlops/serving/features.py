"""Turns named request rows into the model's tensors, checking each value against the schema
the serving version was trained with (names, types, bounds, allowed categories).

Hand-written rather than a per-row pydantic model: it runs on the hot path for up to 1,000
rows, and reports every violation with its row and field in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.serving.errors import SchemaViolationError

MAX_REPORTED_VIOLATIONS = 20
MAX_ECHOED_CHARS = 100  # of a client's own text (a feature name) echoed in an error
_PLAIN_NUMBERS = frozenset({float, int})
FLOAT32_MAX = 3.4e38


def canonical_number_text(value: int | float) -> str:
    """The text a number stands for as a category: integral values without a decimal point
    (2 and 2.0 are "2"), others as Python's shortest round-trip repr (2.5 is "2.5").

    The rule for categoricals: a JSON number is accepted where its canonical text is a declared
    category, because a client that reads a CSV (the example files, pandas) turns the category
    "2" into the number 2. Only exact text matches: 2 is not "02" nor "2.0". Checked only after
    a value failed as a string, so the common path pays nothing.
    """
    if type(value) is int:
        return str(value)
    if value == value and abs(value) < 2**53 and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ECHOED_CHARS else text[:MAX_ECHOED_CHARS] + "..."


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
        self._numeric_names = [f.name for f in numeric]
        # Bounds as arrays (float32's range where the spec sets none; NaN/inf fail both).
        self._low = np.array(
            [-FLOAT32_MAX if f.low is None else max(f.low, -FLOAT32_MAX) for f in numeric],
            dtype=np.float64,
        )
        self._high = np.array(
            [FLOAT32_MAX if f.high is None else min(f.high, FLOAT32_MAX) for f in numeric],
            dtype=np.float64,
        )
        self._low_bounds = [float(bound) for bound in self._low]
        self._high_bounds = [float(bound) for bound in self._high]

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
        Columns whose values are all plain numbers take a vectorised path (one numpy array
        per column, bounds checked at once); anything else falls back to checking each value.
        """
        rows = len(instances)
        violations: list[tuple[int, int, str | None, str]] = []
        names = self.names
        for row, instance in enumerate(instances):
            if type(instance) is not dict:
                violations.append(
                    (row, -1, None, "each instance must be an object of feature values")
                )
            elif not names.issuperset(instance):  # no set built per row, unlike keys() - names
                for key in sorted(str(k) for k in instance.keys() - names)[:5]:
                    # A client's own text is echoed capped: a 10,000-character name once came
                    # back twice (20 KB of error).
                    violations.append((row, -1, _clip(key), "unknown feature"))
        rows_as_dicts = [i if type(i) is dict else _NOT_AN_OBJECT for i in instances]
        numeric = self._numeric_block(rows_as_dicts)
        if numeric is None:  # some value is not a plain in-range number: check one by one
            numeric = np.empty((rows, len(self.numeric)), dtype=np.float32)
            for column, spec in enumerate(self.numeric):
                values = [instance.get(spec.name, _MISSING) for instance in rows_as_dicts]
                numeric[:, column] = self.numeric_column(spec, column, values, violations)
        categorical = np.empty((rows, len(self.categorical)), dtype=object)
        for offset, cat in enumerate(self.categorical):
            values = [instance.get(cat.name, _MISSING) for instance in rows_as_dicts]
            self.categorical_column(offset, values, categorical, violations)
        if violations:
            violations.sort(key=lambda item: (item[0], item[1]))
            shown = [
                {"row": row, "field": field, "message": message}
                for row, _, field, message in violations[:MAX_REPORTED_VIOLATIONS]
            ]
            first = shown[0]
            where = f"row {first['row']}" + (
                f", field '{first['field']}'" if first["field"] else ""
            )
            raise SchemaViolationError(f"{where}: {first['message']}", {"violations": shown})
        return numeric, categorical

    def categorical_column(
        self,
        offset: int,
        values: list[Any],
        out: np.ndarray,
        violations: list[tuple[int, int, str | None, str]],
    ) -> None:
        """Check one categorical feature's values (row order) into column `offset` of `out`.

        A declared category as a string, or a JSON number whose canonical text is one
        (`canonical_number_text`); anything else is a violation naming the row. Shared by the
        row route (`to_tensors`) and the columnar one (mlops.serving.oip), so both refuse the
        same values with the same words.
        """
        cat = self.categorical[offset]
        column = len(self.numeric) + offset
        allowed = cat.allowed
        for row, value in enumerate(values):
            if type(value) is str and value in allowed:
                out[row, offset] = value
            elif value is _SKIP:
                continue
            elif value is _MISSING or value is None:
                violations.append((row, column, cat.name, "missing"))
            elif type(value) is int or type(value) is float:
                text = canonical_number_text(value)
                if text in allowed:
                    out[row, offset] = text
                else:
                    violations.append(
                        (row, column, cat.name, f"{text} is not one of {sorted(allowed)}")
                    )
            elif not isinstance(value, str):
                violations.append(
                    (row, column, cat.name, f"expected a string, got {_describe(value)}")
                )
            else:
                violations.append(
                    (row, column, cat.name, f"'{value[:50]}' is not one of {sorted(allowed)}")
                )

    def _numeric_block(self, rows: list[dict[str, Any]]) -> np.ndarray | None:
        """All numeric features at once when every value is a plain number within bounds
        (the common case): one numpy conversion and one vectorised bounds check."""
        names = self._numeric_names
        matrix = [[row.get(name, _MISSING) for name in names] for row in rows]
        # The set of value types, not a per-value test: bool (a subclass of int) and numeric
        # strings (which numpy would convert) stay out of the fast path.
        if not {type(value) for values in matrix for value in values} <= _PLAIN_NUMBERS:
            return None
        if len(matrix) == 1:
            # One row (the latency-critical case): compare in Python, where three numpy
            # ufuncs and a reduction over 20 values cost ~3x more. Same bounds, same outcome
            # (a NaN fails both comparisons); tests/unit/test_features.py checks both paths agree.
            lows, highs = self._low_bounds, self._high_bounds
            if not all(lo <= v <= hi for v, lo, hi in zip(matrix[0], lows, highs, strict=True)):
                return None
        try:
            array = np.array(matrix, dtype=np.float64).reshape(len(rows), len(names))
        except OverflowError:
            return None
        # count_nonzero, not .all(): the same answer (NaN fails both comparisons) for half the
        # cost, where numpy's reduction overhead dominates.
        if len(matrix) > 1 and (
            np.count_nonzero((array >= self._low) & (array <= self._high)) != array.size
        ):
            return None
        return array.astype(np.float32)

    def bounds(self, column: int) -> tuple[float, float]:
        """Numeric feature `column`'s accepted range: the spec's bounds within float32's."""
        return self._low_bounds[column], self._high_bounds[column]

    @staticmethod
    def numeric_column(
        spec: NumericField,
        column: int,
        values: list[Any],
        violations: list[tuple[int, int, str | None, str]],
    ) -> np.ndarray:
        """One numeric feature's values (row order) as float64, NaN where null; every other
        problem appended to `violations` with its row (the route's and oip's slow path)."""
        if all(type(value) is float or type(value) is int for value in values):
            try:
                array = np.array(values, dtype=np.float64)
            except OverflowError:  # an integer beyond float64: check value by value below
                pass
            else:
                bad = ~(np.abs(array) <= FLOAT32_MAX)
                if spec.low is not None:
                    bad |= array < spec.low
                if spec.high is not None:
                    bad |= array > spec.high
                if not bad.any():
                    return array
        result = np.full(len(values), np.nan)
        reported = 0
        for row, value in enumerate(values):
            problem = None
            if value is _SKIP:
                continue
            if value is _MISSING:
                problem = "missing (send null to have it imputed)"
            elif value is None:
                continue
            elif type(value) is bool or not isinstance(value, int | float):
                problem = f"expected a number, got {_describe(value)}"
            elif not (abs(value) <= FLOAT32_MAX):
                problem = "must be a finite float32 number"
            elif (spec.low is not None and value < spec.low) or (
                spec.high is not None and value > spec.high
            ):
                problem = f"{value} is outside [{spec.low}, {spec.high}]"
            else:
                result[row] = value
                continue
            if reported < MAX_REPORTED_VIOLATIONS:
                violations.append((row, column, spec.name, problem))
            reported += 1
        return result


class _Missing:
    pass


_MISSING = _Missing()
_SKIP = _Missing()


class _NotAnObject(dict[str, Any]):
    """Stands in for a row that is not an object (already reported): every lookup skips."""

    def get(self, key: str, default: Any = None) -> Any:
        return _SKIP


_NOT_AN_OBJECT = _NotAnObject()


def _describe(value: Any) -> str:
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return kind.get(type(value), type(value).__name__)
