"""The Open Inference Protocol routes through the real handler, against moto: answers equal the
native route's, the same checks and limits, capture, metrics and error codes in v2's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from mlops.examples import diabetes_csv
from tests.integration.conftest import ServingStack, pin_predict_environment, train_and_promote
from tests.integration.test_predict_api import SETOSA, VIRGINICA, predict

FEATURES = list(SETOSA)
JSON_HEADERS = {"Content-Type": "application/json", "x-api-key": "k"}


def tensors(rows: list[dict[str, Any]], datatype: str = "FP32") -> list[dict[str, Any]]:
    """One input tensor per feature, as a v2 client sends the rows."""
    return [
        {"name": name, "shape": [len(rows)], "datatype": datatype, "data": [r[name] for r in rows]}
        for name in FEATURES
    ]


def infer(stack: ServingStack, body: object, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    text = body if isinstance(body, str) else json.dumps(body)
    return stack.call("POST", "/v2/models/iris/infer", text, **kwargs)


def test_infer_answers_what_predict_answers(serving_stack: ServingStack) -> None:
    rows: list[dict[str, Any]] = [SETOSA, VIRGINICA, {**SETOSA, "sepal width (cm)": None}]
    status, body = infer(serving_stack, {"id": "42", "inputs": tensors(rows)})
    assert status == 200
    _, native = predict(serving_stack, {"instances": rows})
    assert body["model_name"] == "iris" and body["model_version"] == "1"
    assert body["id"] == "42"
    assert body["parameters"] == {"request_id": native["request_id"]}
    outputs = {output["name"]: output for output in body["outputs"]}
    assert outputs["predictions"] == {
        "name": "predictions",
        "shape": [3],
        "datatype": "BYTES",
        "data": ["setosa", "virginica", "setosa"],
    }
    probabilities = outputs["probabilities"]
    assert (probabilities["shape"], probabilities["datatype"]) == ([3, 3], "FP32")
    assert probabilities["data"] == [p for row in native["probabilities"] for p in row]


def test_without_an_id_the_answer_carries_the_request_id(serving_stack: ServingStack) -> None:
    status, body = infer(serving_stack, {"inputs": tensors([SETOSA])})
    assert status == 200
    assert body["id"] == body["parameters"]["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_requested_outputs_only(serving_stack: ServingStack) -> None:
    body = {"inputs": tensors([SETOSA]), "outputs": [{"name": "predictions"}]}
    status, answer = infer(serving_stack, body)
    assert status == 200
    assert [output["name"] for output in answer["outputs"]] == ["predictions"]
    body["outputs"] = [{"name": "logits"}]
    status, answer = infer(serving_stack, body)
    assert status == 422 and "unknown output(s) ['logits']" in answer["error"]


def test_nested_n_by_1_tensors_and_integer_datatypes_are_accepted(
    serving_stack: ServingStack,
) -> None:
    inputs = tensors([SETOSA, VIRGINICA])
    for tensor in inputs:
        tensor["shape"] = [2, 1]
        tensor["data"] = [[value] for value in tensor["data"]]
    status, body = infer(serving_stack, {"inputs": inputs})
    assert status == 200 and body["outputs"][0]["data"] == ["setosa", "virginica"]
    whole = [{name: 5 for name in FEATURES}]
    assert infer(serving_stack, {"inputs": tensors(whole, "INT64")})[0] == 200


def test_every_inference_is_captured_as_a_prediction_is(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from predict import handler as predict_handler

    predict_handler.service().sample_rate = 1.0  # the inputs of every request, for this test
    capsys.readouterr()
    infer(serving_stack, {"inputs": tensors([SETOSA, VIRGINICA])})
    predict(serving_stack, {"instances": [SETOSA, VIRGINICA]})
    records = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"capture":true' in line
    ]
    v2, native = records
    for record in (v2, native):
        del record["timestamp"]
    # The same line, field for field: drift, feedback and the rollout read v2 traffic unchanged.
    assert v2 == native
    assert v2["inputs"] == [SETOSA, VIRGINICA] and v2["outputs"] == ["setosa", "virginica"]


def test_inference_emits_the_predict_metrics_line(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    infer(serving_stack, {"inputs": tensors([SETOSA, VIRGINICA, SETOSA])})
    (line,) = [
        json.loads(text)
        for text in capsys.readouterr().out.splitlines()
        if text.startswith('{"_aws"')
    ]
    assert (line["requests"], line["rows"]) == ([1.0], [3.0])
    assert (line["model"], line["model_version"]) == ("iris", "1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"petal width (cm)": [0.2, 99]}, "input 'petal width (cm)', row 1: 99 is outside [0, 20]"),
        ({"sepal width (cm)": [3.5, True]}, "row 1: expected a number, got a boolean"),
        ({"sepal width (cm)": [3.5, "3.0"]}, "row 1: expected a number, got a string"),
        ({"sepal width (cm)": [1e39, 3.0]}, "row 0: must be a finite float32 number"),
    ],
)
def test_a_bad_value_is_422_naming_the_input_and_the_row(
    serving_stack: ServingStack, change: dict[str, list[Any]], message: str
) -> None:
    inputs = tensors([SETOSA, SETOSA])
    for tensor in inputs:
        tensor["data"] = change.get(tensor["name"], tensor["data"])
    status, body = infer(serving_stack, {"inputs": inputs})
    assert status == 422
    # v2's error: the message in `error`, our code and details beside it.
    assert set(body) == {"error", "code", "details"} and body["code"] == "schema_violation"
    assert message in body["error"]
    assert body["details"]["violations"][0]["input"] in change


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (lambda t: t[:3], "input 'petal width (cm)': missing"),
        (lambda t: [*t, {**t[0]}], "input 'sepal length (cm)': sent twice"),
        (lambda t: [*t, {**t[0], "name": "colour"}], "input 'colour': unknown input"),
        (lambda t: [{**t[0], "datatype": "BYTES"}, *t[1:]], "datatype 'BYTES' is not one of"),
        (lambda t: [{**t[0], "shape": [1, 4]}, *t[1:]], "shape must be [N] or [N, 1]"),
        (lambda t: [{**t[0], "shape": [2]}, *t[1:]], "data must hold the 2 element(s)"),
        (lambda t: [{**t[0], "data": [1.5]}, *t[1:]], None),
        (lambda t: [{**t[0], "datatype": "INT32", "data": [1.5]}, *t[1:]], "not a valid INT32"),
        (lambda t: [{**t[0], "datatype": "FP16"}, *t[1:]], "datatype 'FP16' is not one of"),
        (lambda t: [{**t[0], "shape": [2], "data": [5.1, 5.1]}, *t[1:]], "same number of rows"),
    ],
)
def test_tensor_problems_are_422_naming_the_tensor(
    serving_stack: ServingStack, inputs: Any, message: str | None
) -> None:
    status, body = infer(serving_stack, {"inputs": inputs(tensors([SETOSA]))})
    if message is None:
        assert status == 200
        return
    assert (status, body["code"]) == (422, "schema_violation"), body
    reported = [body["error"]] + [v["message"] for v in body["details"]["violations"]]
    assert any(message in text for text in reported), reported


def test_a_single_matrix_tensor_is_refused_with_the_expected_names(
    serving_stack: ServingStack,
) -> None:
    matrix = {"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
    status, body = infer(serving_stack, {"inputs": [matrix]})
    assert status == 422
    assert "input 'input-0': unknown input; this model's inputs are its features" in body["error"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ("", 400, "malformed_json"),
        ("[]", 422, "schema_violation"),
        ('{"inputs": []}', 422, "schema_violation"),
        ('{"inputs": [1]}', 422, "schema_violation"),
        ('{"instances": []}', 422, "schema_violation"),
        ('{"inputs": [], "id": 7}', 422, "schema_violation"),
        ('{"inputs": [], "parameters": []}', 422, "schema_violation"),
    ],
)
def test_malformed_bodies_are_4xx_in_v2_shape(
    serving_stack: ServingStack, body: str, status: int, code: str
) -> None:
    got_status, got = infer(serving_stack, body)
    assert (got_status, got["code"]) == (status, code)
    assert isinstance(got["error"], str) and got["error"]


def test_too_many_rows_is_413_and_the_limit_itself_serves(serving_stack: ServingStack) -> None:
    status, body = infer(serving_stack, {"inputs": tensors([SETOSA] * 1001)})
    assert (status, body["code"]) == (413, "payload_too_large")
    assert body["details"]["limit_rows"] == 1000
    assert infer(serving_stack, {"inputs": tensors([SETOSA] * 1000)})[0] == 200


def test_body_over_the_limit_is_413(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from predict import handler as predict_handler

    monkeypatch.setenv("MAX_BODY_BYTES", "200")
    predict_handler.reset()
    status, body = infer(serving_stack, {"inputs": tensors([SETOSA] * 5)}, headers=JSON_HEADERS)
    assert (status, body["code"]) == (413, "payload_too_large")


def test_wrong_content_type_is_415(serving_stack: ServingStack) -> None:
    headers = {"Content-Type": "application/octet-stream", "x-api-key": "k"}
    status, body = infer(serving_stack, {"inputs": tensors([SETOSA])}, headers=headers)
    assert (status, body["code"]) == (415, "unsupported_media_type")


def test_unknown_model_and_wrong_method(serving_stack: ServingStack) -> None:
    status, body = serving_stack.call(
        "POST", "/v2/models/other/infer", json.dumps({"inputs": tensors([SETOSA])})
    )
    assert (status, body["code"]) == (404, "model_not_found")
    status, body = serving_stack.call("GET", "/v2/models/iris/infer")
    assert (status, body["code"]) == (405, "method_not_allowed")
    assert body["details"]["allowed"] == ["POST"]


def test_metadata_lists_one_input_per_feature_and_the_outputs(
    serving_stack: ServingStack,
) -> None:
    status, body = serving_stack.call("GET", "/v2/models/iris")
    assert status == 200
    assert (body["name"], body["versions"], body["platform"]) == ("iris", ["1"], "onnx_onnxv1")
    assert body["inputs"] == [{"name": n, "datatype": "FP32", "shape": [-1]} for n in FEATURES]
    assert body["outputs"] == [
        {"name": "predictions", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
    ]
    assert json.loads(body["parameters"]["classes"]) == ["setosa", "versicolor", "virginica"]


def test_ready_is_200_when_serving_and_503_without_a_model(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert serving_stack.call("GET", "/v2/models/iris/ready") == (
        200,
        {"name": "iris", "ready": True},
    )
    pin_predict_environment(monkeypatch, serving_stack.training, "iris", 0)
    status, body = serving_stack.call("GET", "/v2/models/iris/ready")
    assert (status, body["code"]) == (503, "no_production_model")
    status, body = infer(serving_stack, {"inputs": tensors([SETOSA])})
    assert (status, body["code"]) == (503, "no_production_model")


def test_regression_with_a_categorical_feature(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_and_promote(serving_stack.training, "diabetes", diabetes_csv())
    pin_predict_environment(monkeypatch, serving_stack.training, "diabetes", 1)
    row = {"age": 50, "sex": "2", "bmi": 25.0, "bp": 90.0}
    row |= {f"s{i}": 1.0 for i in range(1, 7)}
    rows = [row, {**row, "sex": 1}]  # a number whose text is a category: the native rule
    inputs: list[dict[str, Any]] = [
        {
            "name": name,
            "shape": [2],
            "datatype": "BYTES" if name == "sex" else "FP64",
            "data": [r[name] for r in rows],
        }
        for name in row
    ]
    status, body = serving_stack.call(
        "POST", "/v2/models/diabetes/infer", json.dumps({"inputs": inputs})
    )
    assert status == 200, body
    _, native = serving_stack.call(
        "POST", "/models/diabetes/predict", json.dumps({"instances": rows})
    )
    (output,) = body["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("predictions", "FP64", [2])
    assert output["data"] == native["predictions"]
    # The document and the API agree on what a categorical tensor may be.
    _, document = serving_stack.call("GET", "/openapi.json")
    schema = document["paths"]["/v2/models/diabetes/infer"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert Draft202012Validator(schema).is_valid({"inputs": inputs})
    as_integers = [
        {**t, "datatype": "INT64", "data": [2, 1]} if t["name"] == "sex" else t for t in inputs
    ]
    assert not Draft202012Validator(schema).is_valid({"inputs": as_integers})
    status, body = serving_stack.call(
        "POST", "/v2/models/diabetes/infer", json.dumps({"inputs": as_integers})
    )
    assert status == 422 and "datatype 'INT64' is not one of ['BYTES']" in body["error"]
    inputs[1]["data"] = ["2", "3"]
    status, body = serving_stack.call(
        "POST", "/v2/models/diabetes/infer", json.dumps({"inputs": inputs})
    )
    assert status == 422 and "input 'sex', row 1: '3' is not one of ['1', '2']" in body["error"]


def test_openapi_describes_the_v2_routes_of_each_model(serving_stack: ServingStack) -> None:
    status, document = serving_stack.call("GET", "/openapi.json")
    assert status == 200
    paths = document["paths"]
    for model in ("iris", "diabetes"):
        assert {f"/v2/models/{model}", f"/v2/models/{model}/ready"} <= set(paths)
        assert set(paths[f"/v2/models/{model}/infer"]) == {"post"}
    operation = paths["/v2/models/iris/infer"]["post"]
    assert {"200", "400", "403", "404", "405", "413", "415", "422", "503"} <= set(
        operation["responses"]
    )
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(schema)
    # What the API accepts, the document accepts; what it refuses for its shape, it refuses.
    good = {"id": "1", "inputs": tensors([SETOSA, VIRGINICA])}
    assert infer(serving_stack, good)[0] == 200
    assert validator.is_valid(good)
    nested = {
        "inputs": [
            {**t, "shape": [1, 1], "data": [[v] for v in t["data"]]} for t in tensors([SETOSA])
        ]
    }
    assert infer(serving_stack, nested)[0] == 200 and validator.is_valid(nested)
    integers = {"inputs": tensors([{name: 5 for name in FEATURES}], "INT64")}
    assert infer(serving_stack, integers)[0] == 200 and validator.is_valid(integers)
    for bad in (
        {"inputs": tensors([SETOSA])[:3]},
        {"inputs": [*tensors([SETOSA])[:3], tensors([SETOSA])[0]]},
        {"inputs": tensors([{**SETOSA, "petal width (cm)": 99}])},
        {"inputs": tensors([SETOSA], "BYTES")},
        {"inputs": tensors([{name: 1.5 for name in FEATURES}], "INT32")},
        {"inputs": tensors([SETOSA]), "rows": 1},
        {"inputs": tensors([SETOSA]), "outputs": [{"name": "logits"}]},
        {"inputs": tensors([SETOSA]), "outputs": [{"name": "predictions", "parameters": 5}]},
        {"inputs": [{**t, "parameters": []} for t in tensors([SETOSA])]},
    ):
        assert infer(serving_stack, bad)[0] == 422, bad
        assert not validator.is_valid(bad), bad
    # Errors are documented in v2's shape, except the gateway's own 403.
    refs = {
        code: answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for code, answer in operation["responses"].items()
        if code != "200"
    }
    assert refs.pop("403") == "ErrorResponse"
    assert set(refs.values()) == {"V2ErrorResponse"}
