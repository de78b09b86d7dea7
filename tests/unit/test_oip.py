"""Columnar tensors -> the model's tensors (mlops.serving.oip): the same values accepted and
refused as the native route's rows, the same tensors out, problems named by input and row."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops.serving.errors import PayloadTooLargeError, SchemaViolationError
from mlops.serving.features import CategoricalField, FeatureSchema, NumericField
from mlops.serving.oip import TensorDecoder, infer_response

SCHEMA = FeatureSchema(
    [NumericField("a", 0.0, 10.0), NumericField("b", None, None)],
    [CategoricalField("c", frozenset({"x", "y", "2"}))],
)
DECODER = TensorDecoder(SCHEMA, max_rows=5, outputs=("predictions", "probabilities"))
DATATYPES = {"a": "FP32", "b": "FP64", "c": "BYTES"}


def body(rows: list[dict[str, Any]], **extra: Any) -> str:
    inputs = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": datatype,
            "data": [row.get(name) for row in rows],
        }
        for name, datatype in DATATYPES.items()
    ]
    return json.dumps({"inputs": inputs, **extra})


def test_columns_become_the_models_tensors() -> None:
    request = DECODER.decode(body([{"a": 1, "b": 2.5, "c": "x"}, {"a": 10.0, "b": -1e30, "c": 2}]))
    assert request.rows == 2 and request.numeric.dtype == np.float32
    assert request.numeric.flags.c_contiguous
    assert request.numeric.tolist() == [[1.0, 2.5], [10.0, np.float32(-1e30)]]
    assert request.categorical.tolist() == [["x"], ["2"]]
    # Captured as the native route's instances, with the client's own values.
    assert request.instances() == [{"a": 1, "b": 2.5, "c": "x"}, {"a": 10.0, "b": -1e30, "c": 2}]


def test_null_is_missing_and_imputed() -> None:
    request = DECODER.decode(body([{"a": None, "b": 1, "c": "y"}]))
    assert np.isnan(request.numeric[0, 0]) and request.numeric[0, 1] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "expected a number, got a boolean"),
        (False, "expected a number, got a boolean"),
        ("1", "expected a number, got a string"),
        ([1, 2], "expected a number, got an array"),
        (11, "11 is outside [0.0, 10.0]"),
        (-0.5, "-0.5 is outside [0.0, 10.0]"),
        (1e39, "must be a finite float32 number"),
        (2**64 - 1, "18446744073709551615 is outside [0.0, 10.0]"),
    ],
)
def test_a_bad_numeric_value_names_input_and_row(value: Any, message: str) -> None:
    rows = [{"a": 1, "b": 1, "c": "x"}, {"a": value, "b": 1, "c": "x"}]
    with pytest.raises(SchemaViolationError) as raised:
        DECODER.decode(body(rows))
    first = raised.value.details["violations"][0]
    assert first == {"input": "a", "row": 1, "message": message}
    assert raised.value.message == f"input 'a', row 1: {message}"


def test_integer_datatypes_hold_integers_in_their_range() -> None:
    wide = FeatureSchema([NumericField("n", None, None)], [])
    decoder = TensorDecoder(wide, max_rows=10, outputs=("predictions",))

    def decode(datatype: str, data: list[Any]) -> np.ndarray:
        tensor = {"name": "n", "shape": [len(data)], "datatype": datatype, "data": data}
        return decoder.decode(json.dumps({"inputs": [tensor]})).numeric

    assert decode("INT8", [-128, 127, 3.0, None])[:3, 0].tolist() == [-128, 127, 3]
    for datatype, data, bad in (
        ("INT8", [1, 128], 128),
        ("UINT16", [-1], -1),
        ("INT64", [1.5], 1.5),
    ):
        with pytest.raises(SchemaViolationError) as raised:
            decode(datatype, data)
        assert f"{bad} is not a valid {datatype} value" in raised.value.message


def test_a_row_count_over_the_limit_is_413_before_any_conversion() -> None:
    with pytest.raises(PayloadTooLargeError):
        DECODER.decode(body([{"a": 1, "b": 1, "c": "x"}] * 6))


def test_the_response_is_flat_row_major_with_shapes() -> None:
    request = DECODER.decode(body([{"a": 1, "b": 1, "c": "x"}] * 2, id="abc"))
    probabilities = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    answer = orjson.loads(
        infer_response(
            model_name="m",
            model_version=3,
            request_id="r-1",
            request=request,
            labels=["x", "y"],
            probabilities=probabilities,
            datatype="BYTES",
        )
    )
    assert answer == {
        "model_name": "m",
        "model_version": "3",
        "id": "abc",
        "parameters": {"request_id": "r-1"},
        "outputs": [
            {"name": "predictions", "shape": [2], "datatype": "BYTES", "data": ["x", "y"]},
            {
                "name": "probabilities",
                "shape": [2, 2],
                "datatype": "FP32",
                "data": [0.25, 0.75, 0.5, 0.5],
            },
        ],
    }


# Property: whatever the values, the columnar route accepts exactly what the native route
# accepts, and builds the same tensors (it reuses the native checks only on its slow path).
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 15),
    st.integers(min_value=2**70, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["x", "y", "2", "z", "1"]),
    st.lists(st.integers(0, 3), max_size=2),
)
rows = st.lists(
    st.fixed_dictionaries({"a": values, "b": values, "c": values}), min_size=1, max_size=5
)


def unwrapped(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A one-element array in a column is [N, 1]'s nested form: its element is the value."""
    return [
        {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in instance.items()}
        for instance in instances
    ]


@settings(max_examples=300, deadline=None)
@given(rows)
def test_columnar_and_row_routes_agree(instances: list[dict[str, Any]]) -> None:
    text = body(instances)
    try:
        # The native route's rows as the API sees them: parsed by orjson, as the body is.
        expected: tuple[np.ndarray, np.ndarray] | str = SCHEMA.to_tensors(
            orjson.loads(json.dumps(unwrapped(instances)))
        )
    except SchemaViolationError as error:
        expected = error.details["violations"][0]["message"]
    try:
        request = DECODER.decode(text)
        got: tuple[np.ndarray, np.ndarray] | str = (request.numeric, request.categorical)
    except SchemaViolationError as error:
        got = error.details["violations"][0]["message"]
    if isinstance(expected, str) or isinstance(got, str):
        assert isinstance(expected, str) and isinstance(got, str), (expected, got)
        return
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1].tolist() == expected[1].tolist()


def test_a_shape_written_as_integral_floats_is_that_shape() -> None:
    """JSON has one number type: the document's integer sizes admit 2.0 (schemathesis sent
    [396.0]); 2.5, NaN-like and [2, 1.0] stay judged by their value."""
    rows = [{"a": 1, "b": 2.5, "c": "x"}, {"a": 2, "b": 0, "c": "y"}]
    document = json.loads(body(rows))
    for tensor in document["inputs"]:
        tensor["shape"] = [2.0, 1.0]
    assert DECODER.decode(json.dumps(document)).numeric.tolist() == [[1.0, 2.5], [2.0, 0.0]]
    document["inputs"][0]["shape"] = [2.5]
    with pytest.raises(SchemaViolationError, match=r"shape must be \[N\] or \[N, 1\]"):
        DECODER.decode(json.dumps(document))
