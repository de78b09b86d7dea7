"""Request rows -> tensors: the vectorised path and the value-by-value path agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops.serving.errors import SchemaViolationError
from mlops.serving.features import CategoricalField, FeatureSchema, NumericField

SCHEMA = FeatureSchema(
    [NumericField("a", 0.0, 10.0), NumericField("b", None, None)],
    [CategoricalField("c", frozenset({"x", "y"}))],
)


def test_plain_rows_take_the_fast_path() -> None:
    numeric, categorical = SCHEMA.to_tensors(
        [{"a": 1, "b": 2.5, "c": "x"}, {"a": 10.0, "b": -1e30, "c": "y"}]
    )
    assert numeric.dtype == np.float32
    assert numeric.tolist() == [[1.0, 2.5], [10.0, np.float32(-1e30)]]
    assert categorical.tolist() == [["x"], ["y"]]


def test_null_numeric_becomes_nan_for_imputation() -> None:
    numeric, _ = SCHEMA.to_tensors([{"a": None, "b": 1, "c": "x"}])
    assert np.isnan(numeric[0, 0]) and numeric[0, 1] == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"a": True, "b": 1, "c": "x"}, "expected a number, got a boolean"),
        ({"a": "1", "b": 1, "c": "x"}, "expected a number, got a string"),
        ({"a": 11, "b": 1, "c": "x"}, "11 is outside [0.0, 10.0]"),
        ({"a": 1, "b": 1e39, "c": "x"}, "must be a finite float32 number"),
        ({"a": 1, "b": 10**400, "c": "x"}, "must be a finite float32 number"),
        ({"b": 1, "c": "x"}, "missing (send null to have it imputed)"),
        ({"a": 1, "b": 1, "c": "z"}, "'z' is not one of ['x', 'y']"),
        ({"a": 1, "b": 1, "c": 3}, "3 is not one of ['x', 'y']"),
        ({"a": 1, "b": 1, "c": "x", "d": 0}, "unknown feature"),
    ],
)
def test_each_violation_names_row_field_and_reason(row: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaViolationError) as raised:
        SCHEMA.to_tensors([{"a": 1, "b": 1, "c": "x"}, row])
    violations = raised.value.details["violations"]
    assert violations[0]["row"] == 1
    assert violations[0]["message"] == message


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 15),
    st.floats(-20, 20),
    st.text(max_size=3),
    st.sampled_from(["x", "y"]),
)


def _expected_valid(row: dict[str, Any]) -> bool:
    """An independent statement of the schema (the oracle for the property below)."""

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    return (
        set(row) == {"a", "b", "c"}
        and (row["a"] is None or (number(row["a"]) and 0 <= row["a"] <= 10))
        and (row["b"] is None or number(row["b"]))
        and row["c"] in ("x", "y")
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={"a": values, "b": values, "c": values}),
        min_size=1,
        max_size=5,
    )
)
def test_accepts_exactly_the_valid_rows_and_keeps_their_values(
    rows: list[dict[str, Any]],
) -> None:
    valid = all(_expected_valid(row) for row in rows)
    if not valid:
        with pytest.raises(SchemaViolationError):
            SCHEMA.to_tensors(rows)
        return
    numeric, categorical = SCHEMA.to_tensors(rows)
    for index, row in enumerate(rows):
        for column, name in enumerate(("a", "b")):
            sent = row[name]
            if sent is None:
                assert np.isnan(numeric[index, column])
            else:
                assert numeric[index, column] == np.float32(sent)
        assert categorical[index, 0] == row["c"]


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0.0, 10.0, -0.0, 10.000000000000002, -1e-300, 3.4e38, 3.5e38]),
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"a": NUMBERS, "b": NUMBERS, "c": st.sampled_from(["x", "y"])}))
def test_one_row_and_many_rows_check_bounds_alike(row: dict[str, Any]) -> None:
    """A single row is bounds-checked in Python, several rows with numpy: same outcome."""
    outcomes = []
    for rows in ([row], [row, row]):
        try:
            numeric, _ = SCHEMA.to_tensors(rows)
        except SchemaViolationError as error:
            outcomes.append(("refused", str(error)))
        else:
            outcomes.append(("accepted", numeric[0].tobytes()))
    assert outcomes[0] == outcomes[1]
