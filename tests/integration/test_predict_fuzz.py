"""Property: no request body, however malformed, gets a 5xx or a stack trace."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import ServingStack

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ERROR_CODES = {
    400: "malformed_json",
    404: "model_not_found",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "schema_violation",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
feature_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)
rows = st.dictionaries(st.sampled_from([*FEATURES, "colour", ""]), feature_values, max_size=6)
near_valid = st.builds(
    lambda instances: {"instances": instances}, st.lists(rows | json_values, max_size=5)
)
bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(lambda value: json.dumps(value)),
    near_valid.map(lambda value: json.dumps(value, allow_nan=True)),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
)
# Feedback of the right shape around arbitrary labels (huge integers, NaN, nested values...).
near_valid_feedback = st.builds(
    lambda items: {"feedback": items},
    st.lists(
        st.fixed_dictionaries(
            {"request_id": st.text(min_size=1, max_size=5), "row": st.integers(-1, 5)},
            optional={
                "actual": json_values
                | feature_values
                | st.integers(min_value=2**63, max_value=2**90)  # beyond what orjson writes
                | st.sampled_from([float("nan"), float("inf")])
            },
        ),
        max_size=3,
    ),
)
feedback_bodies = bodies | near_valid_feedback.map(lambda value: json.dumps(value, allow_nan=True))
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "",
        "APPLICATION/JSON",
        "multipart/form-data",
    ]
)


def _check(status: int, body: dict[str, Any]) -> None:
    assert status < 500, body
    if status >= 400:
        assert set(body) == {"error"}
        assert body["error"]["code"] == ERROR_CODES[status]
        assert isinstance(body["error"]["message"], str)
        assert "Traceback" not in json.dumps(body)
    else:
        assert status == 200
        assert len(body["predictions"]) == len(body["probabilities"])


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, content_type=content_types)
def test_no_body_gets_a_5xx(serving_stack: ServingStack, body: str, content_type: str) -> None:
    status, answer = serving_stack.call(
        "POST",
        "/models/iris/predict",
        body,
        headers={"Content-Type": content_type, "x-api-key": "k"},
    )
    _check(status, answer)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=feedback_bodies)
def test_no_feedback_body_gets_a_5xx(serving_stack: ServingStack, body: str) -> None:
    status, answer = serving_stack.call("POST", "/models/iris/feedback", body)
    assert status < 500, answer
    if status >= 400:
        assert answer["error"]["code"] == ERROR_CODES[status]
    else:
        assert status == 202


# The Open Inference Protocol's infer body: near-valid tensors around arbitrary names, shapes,
# datatypes and data (nested, mixed, oversized counts), plus everything above.
tensor_values = feature_values | st.lists(feature_values, max_size=2)
tensor = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from([*FEATURES, "colour", ""]) | json_values,
        "shape": st.lists(st.integers(-2, 3) | json_values, max_size=3) | json_values,
        "datatype": st.sampled_from(["FP32", "FP64", "INT8", "UINT64", "BYTES", "BOOL", "FP16"])
        | json_values,
        "data": st.lists(tensor_values, max_size=4) | json_values,
        "parameters": json_values,
    },
)
near_valid_infer = st.fixed_dictionaries(
    {"inputs": st.lists(tensor, max_size=5) | json_values},
    optional={"id": json_values, "parameters": json_values, "outputs": json_values},
)
infer_bodies = bodies | near_valid_infer.map(lambda value: json.dumps(value, allow_nan=True))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=infer_bodies, content_type=content_types)
def test_no_infer_body_gets_a_5xx(
    serving_stack: ServingStack, body: str, content_type: str
) -> None:
    status, answer = serving_stack.call(
        "POST",
        "/v2/models/iris/infer",
        body,
        headers={"Content-Type": content_type, "x-api-key": "k"},
    )
    assert status < 500, answer
    if status >= 400:
        # v2's error shape: the message in `error`, the contract's code and details beside it.
        assert set(answer) == {"error", "code", "details"}
        assert answer["code"] == ERROR_CODES[status] and isinstance(answer["error"], str)
        assert "Traceback" not in json.dumps(answer)
    else:
        assert status == 200
        rows = answer["outputs"][0]["shape"][0]
        assert len(answer["outputs"][0]["data"]) == rows
