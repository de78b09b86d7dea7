"""Rules a real client meets at the feature checks: a number for a numeric-text category, and
a client's own text echoed capped (docs/api.md)."""

from __future__ import annotations

import json

import pytest

from mlops.serving.errors import SchemaViolationError
from mlops.serving.features import CategoricalField, FeatureSchema, NumericField

SCHEMA = FeatureSchema(
    [NumericField("bmi", 10.0, 60.0)],
    [CategoricalField("sex", frozenset({"1", "2"})), CategoricalField("grade", frozenset({"2.5"}))],
)


@pytest.mark.parametrize(
    ("sex", "grade", "expected"),
    [("2", "2.5", ["2", "2.5"]), (2, 2.5, ["2", "2.5"]), (2.0, "2.5", ["2", "2.5"])],
)
def test_a_number_whose_text_is_a_category_is_that_category(
    sex: object, grade: object, expected: list[str]
) -> None:
    _, categorical = SCHEMA.to_tensors([{"bmi": 30, "sex": sex, "grade": grade}])
    assert categorical.tolist() == [expected]


@pytest.mark.parametrize(
    ("sex", "message"),
    [
        (3, "3 is not one of ['1', '2']"),
        (2.5, "2.5 is not one of ['1', '2']"),
        (True, "expected a string, got a boolean"),
        (float("nan"), "nan is not one of ['1', '2']"),
    ],
)
def test_other_numbers_and_booleans_are_still_refused(sex: object, message: str) -> None:
    with pytest.raises(SchemaViolationError) as raised:
        SCHEMA.to_tensors([{"bmi": 30, "sex": sex, "grade": "2.5"}])
    assert message in str(raised.value)


def test_an_enormous_unknown_feature_name_is_echoed_capped() -> None:
    name = "x" * 10_000
    with pytest.raises(SchemaViolationError) as raised:
        SCHEMA.to_tensors([{"bmi": 30, "sex": "1", "grade": "2.5", name: 1}])
    error = raised.value
    echoed = json.dumps({"message": str(error), "details": error.details})
    assert len(echoed) < 600, len(echoed)
    assert "unknown feature" in echoed and "x" * 100 in echoed
