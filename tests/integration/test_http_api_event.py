"""The predict handler answers an HTTP API's events (payload format 1.0) as it answers REST's.

`-c api=http` integrates every route with payload format 1.0 (infra/http_api.py) because the
handler reads the REST proxy shape. These tests send the HTTP API's own event (lower-case
headers, a `$default` stage, its request id format, the `$default` catch-all route) through the
real handler against moto: predict, describe, feedback, and the error contract's 4xx.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event
from tests.integration.conftest import ServingStack, lambda_context

HTTP_API_REQUEST_ID = "Kz3bYg0SoAMEVJw="
SETOSA = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}


def http_api_event(
    method: str, path: str, body: object | None = None, *, route: str | None = None
) -> dict[str, Any]:
    """The HTTP API's 1.0 event for `method path`; `route` is the matched route's path
    (`$default` for the catch-all), as API Gateway sets `resource`."""
    event = copy.deepcopy(load_event("apigw_http_v1_predict"))
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    resource = route or path
    event.update({"httpMethod": method, "path": path, "resource": resource, "body": text})
    event["requestContext"].update(
        {
            "httpMethod": method,
            "path": path,
            "resourcePath": resource,
            "resourceId": resource if route == "$default" else f"{method} {path}",
        }
    )
    return event


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from predict.handler import handler

    response = handler(event, lambda_context())
    return int(response["statusCode"]), json.loads(response["body"])


def capture_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"capture":true' in line
    ]


def test_predict_answers_and_captures_with_the_http_api_request_id(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    status, body = call(http_api_event("POST", "/models/iris/predict", {"instances": [SETOSA]}))
    assert status == 200
    assert body["predictions"] == ["setosa"] and body["model_version"] == 1
    assert body["request_id"] == HTTP_API_REQUEST_ID
    captured = capture_lines(capsys)
    assert [(c["kind"], c["request_id"]) for c in captured] == [("prediction", HTTP_API_REQUEST_ID)]


def test_describe_answers_through_the_resolver(serving_stack: ServingStack) -> None:
    status, body = call(http_api_event("GET", "/models/iris"))
    assert status == 200
    assert body["version"] == 1 and body["status"] == "production"


def test_feedback_with_a_lower_case_content_type_is_accepted(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    feedback = {"feedback": [{"request_id": HTTP_API_REQUEST_ID, "row": 0, "actual": "setosa"}]}
    status, body = call(http_api_event("POST", "/models/iris/feedback", feedback))
    assert status == 202 and body == {"accepted": 1}
    assert capture_lines(capsys)[-1]["kind"] == "feedback"


def test_a_row_outside_the_schema_is_the_contract_s_422(serving_stack: ServingStack) -> None:
    row = {**SETOSA, "petal width (cm)": "wide"}
    status, body = call(http_api_event("POST", "/models/iris/predict", {"instances": [row]}))
    assert status == 422
    assert body["error"]["code"] and "petal width (cm)" in body["error"]["message"]


def test_a_non_json_body_is_the_contract_s_400(serving_stack: ServingStack) -> None:
    status, body = call(http_api_event("POST", "/models/iris/predict", "{not json"))
    assert status == 400 and "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/models/nosuch/predict"), ("GET", "/nowhere"), ("GET", "/models/nosuch")],
)
def test_the_default_route_answers_the_contract_s_404(
    serving_stack: ServingStack, method: str, path: str
) -> None:
    body = {"instances": [SETOSA]} if method == "POST" else None
    status, answer = call(http_api_event(method, path, body, route="$default"))
    assert status == 404
    assert set(answer["error"]) == {"code", "message", "details"}
