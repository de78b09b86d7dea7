"""The prediction API through the real handler, against moto: every route and error code."""

from __future__ import annotations

import json

import pytest

from mlops.clients import client
from mlops.examples import diabetes_csv
from mlops.inference.session import OnnxModel
from tests.integration.conftest import ServingStack, pin_predict_environment, train_and_promote

SETOSA = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}
VIRGINICA = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
JSON_HEADERS = {"Content-Type": "application/json", "x-api-key": "k"}


def predict(stack: ServingStack, body: object, **kwargs: object) -> tuple[int, dict]:
    text = body if isinstance(body, str) else json.dumps(body)
    return stack.call("POST", "/models/iris/predict", text, **kwargs)  # type: ignore[arg-type]


def test_predict_returns_labels_probabilities_version_and_request_id(
    serving_stack: ServingStack,
) -> None:
    status, body = predict(serving_stack, {"instances": [SETOSA, VIRGINICA]})
    assert status == 200
    assert body["predictions"] == ["setosa", "virginica"]
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(body["probabilities"]) == 2
    assert all(abs(sum(row) - 1) < 1e-5 for row in body["probabilities"])
    assert body["model"] == "iris" and body["model_version"] == 1
    assert body["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_null_numeric_is_imputed(serving_stack: ServingStack) -> None:
    status, body = predict(serving_stack, {"instances": [{**SETOSA, "sepal width (cm)": None}]})
    assert status == 200 and body["predictions"] == ["setosa"]


def test_describe_reports_serving_version_schema_metrics_and_lineage(
    serving_stack: ServingStack,
) -> None:
    status, body = serving_stack.call("GET", "/models/iris")
    assert status == 200
    assert body["version"] == 1 and body["status"] == "production"
    assert [f["name"] for f in body["features"]] == list(SETOSA)
    assert body["metrics"]["f1_macro"] > 0.85
    assert body["lineage"]["data_key"] == "training/iris/serving.csv"
    assert len(body["artifact_sha256"]) == 64 and body["trained_at"]


def test_describe_reads_the_status_now_not_at_load(serving_stack: ServingStack) -> None:
    """A canary promoted (or a production version archived) after this environment loaded is
    described with its status now: the registry moved, the environment did not."""
    assert serving_stack.call("GET", "/models/iris")[1]["status"] == "production"
    client("dynamodb").update_item(
        TableName=serving_stack.names.registry_table,
        Key={"pk": {"S": "MODEL#iris"}, "sk": {"S": "VERSION#00000001"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "archived"}},
    )
    status, body = serving_stack.call("GET", "/models/iris")
    assert status == 200 and (body["version"], body["status"]) == (1, "archived")
    assert body["function_version"] == "$LATEST"


def test_feedback_is_accepted(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    status, body = serving_stack.call(
        "POST",
        "/models/iris/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 0, "actual": "setosa"}]}),
    )
    assert status == 202 and body == {"accepted": 1}
    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"capture":true' in line
    ]
    assert lines[-1]["kind"] == "feedback"
    assert lines[-1]["feedback"][0]["actual"] == "setosa"


def test_every_prediction_is_captured_with_id_version_and_outputs(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    predict(serving_stack, {"instances": [SETOSA]})
    records = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"capture":true' in line
    ]
    assert records[-1]["kind"] == "prediction"
    assert records[-1]["model_version"] == 1
    assert records[-1]["outputs"] == ["setosa"]
    assert records[-1]["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def _emf_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_served_prediction_emits_requests_rows_and_latency_with_model_and_version(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    predict(serving_stack, {"instances": [SETOSA, VIRGINICA, SETOSA]})
    (line,) = _emf_lines(capsys.readouterr().out)
    assert (line["requests"], line["rows"]) == ([1.0], [3.0])
    assert 0 < line["model_latency"][0] < 1000
    assert (line["model"], line["model_version"]) == ("iris", "1")
    # The executing function version (AWS_LAMBDA_FUNCTION_VERSION; unset here: "$LATEST") is a
    # second dimension set, by which a code canary is counted.
    assert line["function_version"] == "$LATEST"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["model", "model_version", "service"],
        ["model", "function_version", "service"],
    ]


def test_invalid_request_is_counted_with_model_and_version(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status, _ = predict(serving_stack, {"instances": [{**SETOSA, "petal width (cm)": "wide"}]})
    assert status == 422
    (line,) = _emf_lines(capsys.readouterr().out)
    assert line["invalid_requests"] == [1.0] and "requests" not in line
    assert (line["model"], line["model_version"]) == ("iris", "1")
    assert line["function_version"] == "$LATEST"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["model", "model_version", "service"],
        ["model", "function_version", "service"],
    ]


def test_openapi_document_describes_each_model_exactly(serving_stack: ServingStack) -> None:
    status, document = serving_stack.call("GET", "/openapi.json")
    assert status == 200
    paths = document["paths"]
    for model in ("iris", "diabetes"):
        assert {f"/models/{model}", f"/models/{model}/predict", f"/models/{model}/feedback"} <= (
            set(paths)
        )
    predict = paths["/models/iris/predict"]["post"]
    assert {"200", "400", "404", "413", "415", "422", "503"} <= set(predict["responses"])
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    instances = body["properties"]["instances"]
    assert instances["maxItems"] == 1000
    row = instances["items"]
    assert row["required"] == list(SETOSA)
    assert row["additionalProperties"] is False
    assert row["properties"]["petal width (cm)"]["maximum"] == 20
    diabetes_row = paths["/models/diabetes/predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["instances"]["items"]
    assert diabetes_row["properties"]["sex"]["anyOf"] == [
        {"type": "string", "enum": ["1", "2"]},
        {"type": "number", "enum": [1, 2]},
    ]


def test_openapi_declares_the_api_key_and_the_gateway_answers(
    serving_stack: ServingStack,
) -> None:
    _, document = serving_stack.call("GET", "/openapi.json")
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert document["security"] == [{"apiKey": []}]
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 6
    for path, method, operation in operations:
        assert {"403", "405"} <= set(operation["responses"]), (path, method)


def test_boolean_is_not_a_number(serving_stack: ServingStack) -> None:
    status, body = predict(serving_stack, {"instances": [{**SETOSA, "sepal width (cm)": True}]})
    assert (status, body["error"]["code"]) == (422, "schema_violation")
    assert "expected a number, got a boolean" in body["error"]["message"]


def test_wrong_method_on_a_known_route_is_405_with_allow(serving_stack: ServingStack) -> None:
    status, body = serving_stack.call("GET", "/models/iris/predict")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    assert body["error"]["details"]["allowed"] == ["POST"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ("", 400, "malformed_json"),
        ("[]", 422, "schema_violation"),
        ('{"instances": []}', 422, "schema_violation"),
        ('{"instances": [1]}', 422, "schema_violation"),
        ('{"rows": []}', 422, "schema_violation"),
    ],
)
def test_malformed_bodies_are_4xx_with_the_error_contract(
    serving_stack: ServingStack, body: str, status: int, code: str
) -> None:
    got_status, got = predict(serving_stack, body)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert set(got["error"]) == {"code", "message", "details"}


def test_schema_violation_names_field_and_row(serving_stack: ServingStack) -> None:
    status, body = predict(
        serving_stack,
        {
            "instances": [
                SETOSA,
                {**SETOSA, "petal width (cm)": 99},
                {**SETOSA, "colour": "red"},
                {k: v for k, v in SETOSA.items() if k != "sepal length (cm)"},
                {**SETOSA, "sepal width (cm)": "wide"},
            ]
        },
    )
    assert status == 422
    violations = body["error"]["details"]["violations"]
    assert {"row": 1, "field": "petal width (cm)", "message": "99 is outside [0, 20]"} in (
        violations
    )
    assert {(v["row"], v["field"]) for v in violations} >= {
        (1, "petal width (cm)"),
        (2, "colour"),
        (3, "sepal length (cm)"),
        (4, "sepal width (cm)"),
    }
    assert body["error"]["message"].startswith("row 1, field 'petal width (cm)'")


def test_wrong_content_type_is_415(serving_stack: ServingStack) -> None:
    status, body = predict(
        serving_stack,
        {"instances": [SETOSA]},
        headers={"Content-Type": "text/csv", "x-api-key": "k"},
    )
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")


def test_body_over_the_limit_is_413(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from predict import handler as predict_handler

    monkeypatch.setenv("MAX_BODY_BYTES", "200")
    predict_handler.reset()
    status, body = predict(serving_stack, {"instances": [SETOSA] * 5}, headers=JSON_HEADERS)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_too_many_rows_is_413(serving_stack: ServingStack) -> None:
    status, body = predict(serving_stack, {"instances": [SETOSA] * 1001})
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert body["error"]["details"]["limit_rows"] == 1000
    assert predict(serving_stack, {"instances": [SETOSA] * 1000})[0] == 200


def test_unknown_model_is_404(serving_stack: ServingStack) -> None:
    status, body = serving_stack.call(
        "POST", "/models/other/predict", json.dumps({"instances": [SETOSA]})
    )
    assert (status, body["error"]["code"]) == (404, "model_not_found")
    assert serving_stack.call("GET", "/nothing/here")[0] == 404


def test_no_production_model_is_503(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_predict_environment(monkeypatch, serving_stack.training, "iris", 0)
    status, body = predict(serving_stack, {"instances": [SETOSA]})
    assert (status, body["error"]["code"]) == (503, "no_production_model")


def _another_iris_model() -> bytes:
    """The ONNX bytes of a one-split tree on the iris data, with the shipped iris schema."""
    from mlops.dataset import read_training_csv
    from mlops.examples import iris_csv
    from mlops.spec import load_spec
    from mlops.training.trainer import fit_candidate

    spec = load_spec("iris")
    stump = spec.model_copy(
        update={
            "estimator": spec.estimator.model_copy(
                update={"name": "decision_tree_classifier", "params": {"max_depth": 1}}
            )
        }
    )
    return fit_candidate(stump, read_training_csv(iris_csv(), stump)).onnx_bytes


def test_tampered_artifact_is_refused_with_503_metric_and_log(
    serving_stack: ServingStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = serving_stack.names.model_bucket
    # A valid ONNX model of the same schema (another fit): it would load and serve, so only the
    # sha256 check can refuse it.
    tampered = _another_iris_model()
    assert OnnxModel(tampered).metadata.numeric_features == list(SETOSA)
    client("s3").put_object(Bucket=bucket, Key="models/iris/v1/model.onnx", Body=tampered)
    from mlops.registry import RegistryStore

    # The registry pins the S3 object version: re-point it at the tampered upload, as an
    # attacker with write access to the bucket (but not the table) cannot; then also check
    # that the pinned original still verifies.
    store = RegistryStore(client("dynamodb"), serving_stack.names.registry_table)
    version = store.get_version("iris", 1)
    tampered_id = client("s3").head_object(Bucket=bucket, Key="models/iris/v1/model.onnx")[
        "VersionId"
    ]
    assert tampered_id != version.model_artifact.version_id
    record = version.model_copy(deep=True)
    record.artifacts["model.onnx"].version_id = tampered_id
    from mlops.registry.store import _model_pk, _to_item, _version_sk

    client("dynamodb").put_item(
        TableName=serving_stack.names.registry_table,
        Item=_to_item(
            {
                "pk": _model_pk("iris"),
                "sk": _version_sk(1),
                "kind": "version",
                **record.model_dump(mode="json"),
            }
        ),
    )
    pin_predict_environment(monkeypatch, serving_stack.training, "iris", 1)
    status, body = predict(serving_stack, {"instances": [SETOSA]})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert body["error"]["details"] == {"reason": "artifact_sha256_mismatch"}
    assert '"model_artifact_integrity":[1.0]' in capsys.readouterr().out  # the EMF metric
    assert any("refusing to serve iris v1" in r.getMessage() for r in caplog.records)


def test_missing_artifact_is_503_not_a_crash(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_predict_environment(monkeypatch, serving_stack.training, "iris", 7)
    status, body = predict(serving_stack, {"instances": [SETOSA]})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")


def test_feedback_with_a_huge_integer_label_is_kept_exactly(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = 123456789012345678901234567890  # beyond 64 bits: orjson cannot write it
    train_and_promote(serving_stack.training, "diabetes", diabetes_csv())
    pin_predict_environment(monkeypatch, serving_stack.training, "diabetes", 1)
    capsys.readouterr()
    status, body = serving_stack.call(
        "POST",
        "/models/diabetes/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 0, "actual": huge}]}),
    )
    assert (status, body) == (202, {"accepted": 1})
    (record,) = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"capture":true' in line
    ]
    assert record["feedback"][0]["actual"] == huge


def test_feedback_label_that_is_not_a_class_is_422_naming_the_classes(
    serving_stack: ServingStack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status, body = serving_stack.call(
        "POST",
        "/models/iris/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 0, "actual": "banana"}]}),
    )
    assert (status, body["error"]["code"]) == (422, "schema_violation")
    assert "'banana' is not a class" in body["error"]["message"]
    assert "'setosa'" in body["error"]["message"]
    assert body["error"]["details"]["violations"][0]["location"] == [
        "body",
        "feedback",
        0,
        "actual",
    ]
    assert '"capture":true' not in capsys.readouterr().out  # nothing stored


def test_feedback_row_beyond_the_batch_limit_is_422(serving_stack: ServingStack) -> None:
    status, body = serving_stack.call(
        "POST",
        "/models/iris/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 5000, "actual": "setosa"}]}),
    )
    assert (status, body["error"]["code"]) == (422, "schema_violation")
    assert "5000 is beyond any request" in body["error"]["message"]


def test_feedback_row_at_the_last_batch_row_is_accepted(serving_stack: ServingStack) -> None:
    status, _ = serving_stack.call(
        "POST",
        "/models/iris/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 999, "actual": "setosa"}]}),
    )
    assert status == 202


def test_regression_feedback_that_is_not_a_number_is_422(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_and_promote(serving_stack.training, "diabetes", diabetes_csv())
    pin_predict_environment(monkeypatch, serving_stack.training, "diabetes", 1)
    status, body = serving_stack.call(
        "POST",
        "/models/diabetes/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 0, "actual": "abc"}]}),
    )
    assert (status, body["error"]["code"]) == (422, "schema_violation")
    assert "'abc' is not a number" in body["error"]["message"]
    status, _ = serving_stack.call(
        "POST",
        "/models/diabetes/feedback",
        json.dumps({"feedback": [{"request_id": "abc", "row": 0, "actual": 151.5}]}),
    )
    assert status == 202


@pytest.mark.parametrize("actual", ["NaN", "Infinity"])
def test_feedback_that_is_not_a_finite_number_is_422(
    serving_stack: ServingStack, actual: str
) -> None:
    status, body = serving_stack.call(
        "POST",
        "/models/iris/feedback",
        '{"feedback": [{"request_id": "abc", "row": 0, "actual": ' + actual + "}]}",
    )
    assert (status, body["error"]["code"]) == (422, "schema_violation")


def test_malformed_version_record_is_503_not_a_crash(
    serving_stack: ServingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.registry import RegistryStore
    from mlops.registry.store import _model_pk, _to_item, _version_sk

    store = RegistryStore(client("dynamodb"), serving_stack.names.registry_table)
    record = store.get_version("iris", 1).model_dump(mode="json")
    record["feature_schema"] = ["not an object"]
    client("dynamodb").put_item(
        TableName=serving_stack.names.registry_table,
        Item=_to_item({"pk": _model_pk("iris"), "sk": _version_sk(1), "kind": "version", **record}),
    )
    pin_predict_environment(monkeypatch, serving_stack.training, "iris", 1)
    status, body = predict(serving_stack, {"instances": [SETOSA]})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert body["error"]["details"] == {"reason": "MalformedVersionError"}
