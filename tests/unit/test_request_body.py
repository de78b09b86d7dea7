"""The predict body's shape checks name what is wrong."""

from __future__ import annotations

import pytest

from mlops.serving.api import PredictionService
from mlops.serving.errors import MalformedRequestError, SchemaViolationError


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"foo": 1}', "unexpected field(s) ['foo']"),
        ('{"instances": [{}], "extra": 1}', "unexpected field(s) ['extra']"),
        ('{"instances": []}', "instances: expected a non-empty array"),
        ('{"instances": {}}', "instances: expected a non-empty array"),
        ("[1]", "expected an object"),
    ],
)
def test_shape_errors_are_422_and_say_what(body: str, message: str) -> None:
    with pytest.raises(SchemaViolationError) as error:
        PredictionService._instances(body)
    assert message in error.value.message


@pytest.mark.parametrize("body", ["{", '{"instances": [NaN]}', '{"a": 1e400}', '"\\ud800"'])
def test_what_is_not_json_is_400(body: str) -> None:
    with pytest.raises(MalformedRequestError):
        PredictionService._instances(body)
