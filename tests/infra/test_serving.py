"""Serving wiring: one predict function per spec, pinned to no model on $LATEST, a `live` alias
made by our code (never by CloudFormation), capture through CloudWatch Logs to Firehose."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.bundling import MODELS_DIR
from infra.capture import CAPTURE_FILTER_PATTERN
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized

MODELS = sorted(load_all_specs(MODELS_DIR))


def _endpoint(synthesized: Synthesized, model: str) -> Any:
    from infra.serving import model_id

    return synthesized.stack.node.find_child(f"Serving{model_id(model)}")


def _function(synthesized: Synthesized, model: str) -> tuple[str, dict[str, Any]]:
    logical_id = synthesized.logical_id(_endpoint(synthesized, model).function)
    return logical_id, synthesized.json["Resources"][logical_id]["Properties"]


def test_one_predict_function_per_spec(synthesized: Synthesized):
    predict_names = sorted(
        f["Properties"]["FunctionName"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "predict.handler.handler"
    )
    assert MODELS
    assert predict_names == [f"mlops-dev-predict-{model}" for model in MODELS]


@pytest.mark.parametrize("model", MODELS)
def test_predict_function_latest_serves_no_model_version(synthesized: Synthesized, model: str):
    _, props = _function(synthesized, model)
    env = props["Environment"]["Variables"]
    assert env["MODEL_NAME"] == model
    assert env["MODEL_VERSION"] == "0"
    assert env["MLOPS_SPECS_DIR"] == "/var/task/models"
    assert env["POWERTOOLS_SERVICE_NAME"] == "predict"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ServerlessMlops"
    assert (env["MAX_BATCH_ROWS"], env["MAX_BODY_BYTES"]) == ("1000", "1000000")
    assert set(env) >= {"MODEL_BUCKET", "REGISTRY_TABLE", "CODE_VERSION"}


@pytest.mark.parametrize("model", MODELS)
def test_predict_function_runtime_and_limits(synthesized: Synthesized, model: str):
    _, props = _function(synthesized, model)
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == 10
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_every_layer_is_ours_built_from_the_pinned_versions(synthesized: Synthesized):
    """AWS's public Powertools layers hold other Powertools releases than our pin (version 27
    of the arm64 one: ~3.23 vs 3.37) and live in a partition-specific account: both layers are
    built by layers/build_layer.py from constraints.txt (DESIGN §7)."""
    layers = synthesized.resources("AWS::Lambda::LayerVersion")
    descriptions = sorted(layer["Properties"]["Description"] for layer in layers.values())
    assert descriptions == [
        "aws-lambda-powertools + pydantic for arm64, pinned by constraints.txt",
        "onnxruntime + numpy + orjson for arm64, pinned by constraints.txt",
    ]
    _, props = _function(synthesized, MODELS[0])
    assert sorted(layer["Ref"] for layer in props["Layers"]) == sorted(layers)
    for function in synthesized.resources("AWS::Lambda::Function").values():
        for layer in function["Properties"].get("Layers", []):
            assert set(layer) == {"Ref"} and layer["Ref"] in layers, layer
    assert ":layer:" not in json.dumps(synthesized.json)


def test_predict_asset_holds_handler_shared_code_and_specs(synthesized: Synthesized):
    _, props = _function(synthesized, MODELS[0])
    asset = synthesized.staged_asset(props["Code"]["S3Key"].removesuffix(".zip"))
    assert (asset / "predict").is_dir()
    assert (asset / "mlops" / "spec").is_dir()
    assert sorted(p.stem for p in (asset / "models").glob("*.toml")) == MODELS
    # The CLI and the local stack never run in Lambda.
    assert not (asset / "mlops" / "cli").exists()
    assert not (asset / "mlops" / "local").exists()
    assert not list(asset.rglob("__pycache__"))


def test_setup_asset_is_distinct_from_predict_asset(synthesized: Synthesized):
    setup = synthesized.stack.node.find_child("ServingSetup")
    setup_id = synthesized.logical_id(setup.function)  # type: ignore[attr-defined]
    setup_props = synthesized.json["Resources"][setup_id]["Properties"]
    _, predict_props = _function(synthesized, MODELS[0])
    assert setup_props["Handler"] == "serving_setup.handler.handler"
    assert setup_props["Code"]["S3Key"] != predict_props["Code"]["S3Key"]
    asset = synthesized.staged_asset(setup_props["Code"]["S3Key"].removesuffix(".zip"))
    assert (asset / "serving_setup").is_dir()
    assert (asset / "models").is_dir()


@pytest.mark.parametrize("model", MODELS)
def test_predict_reads_only_its_model_prefix_and_the_registry(synthesized: Synthesized, model: str):
    role_id = synthesized.logical_id(_endpoint(synthesized, model).function.role)
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    # GetObjectVersion: predict reads the registry's pinned S3 version id.
    assert by_sid["ReadModelArtifacts"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert by_sid["ReadModelArtifacts"]["Resource"]["Fn::Join"][1][-1] == f"/models/{model}/*"
    assert by_sid["ReadRegistry"]["Action"] == "dynamodb:GetItem"
    assert not any("s3:PutObject" in str(s["Action"]) for s in statements)


def test_the_alias_is_never_a_cloudformation_resource(synthesized: Synthesized):
    assert not synthesized.resources("AWS::Lambda::Alias")
    assert not synthesized.resources("AWS::Lambda::Version")


@pytest.mark.parametrize("model", MODELS)
def test_one_live_alias_custom_resource_per_model(synthesized: Synthesized, model: str):
    function_id, _ = _function(synthesized, model)
    setup = synthesized.stack.node.find_child("ServingSetup")
    framework = setup.provider.node.find_child("framework-onEvent")  # type: ignore[attr-defined]
    (custom,) = [
        r
        for r in synthesized.resources("Custom::LiveAlias").values()
        if r["Properties"]["ModelName"] == model
    ]
    assert custom["Properties"]["FunctionName"] == {"Ref": function_id}
    assert custom["Properties"]["ServiceToken"] == {
        "Fn::GetAtt": [synthesized.logical_id(framework), "Arn"]
    }
    # Only names as properties: a redeploy never updates it, so `live` never moves.
    assert set(custom["Properties"]) == {"ServiceToken", "FunctionName", "ModelName"}


def test_setup_may_publish_and_alias_only_the_predict_functions(synthesized: Synthesized):
    setup = synthesized.stack.node.find_child("ServingSetup")
    role_id = synthesized.logical_id(setup.role)  # type: ignore[attr-defined]
    lambda_statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:CreateAlias" in statement["Action"]
    ]
    assert len(lambda_statements) == len(MODELS)
    targets = set()
    for statement in lambda_statements:
        assert "lambda:PublishVersion" in statement["Action"]
        assert "lambda:InvokeFunction" not in statement["Action"]
        targets.add(statement["Resource"][0]["Fn::GetAtt"][0])
    assert targets == {_function(synthesized, model)[0] for model in MODELS}
    setup_id = synthesized.logical_id(setup.function)  # type: ignore[attr-defined]
    env = synthesized.json["Resources"][setup_id]["Properties"]["Environment"]["Variables"]
    assert "REGISTRY_TABLE" in env


@pytest.mark.parametrize("model", MODELS)
def test_capture_lines_of_each_predict_log_group_go_to_the_capture_stream(
    synthesized: Synthesized, model: str
):
    log_group = synthesized.logical_id(_endpoint(synthesized, model).log_group)
    (stream_id,) = synthesized.resources("AWS::KinesisFirehose::DeliveryStream")
    (subscription,) = [
        s
        for s in synthesized.resources("AWS::Logs::SubscriptionFilter").values()
        if s["Properties"]["LogGroupName"] == {"Ref": log_group}
    ]
    assert subscription["Properties"]["FilterPattern"] == CAPTURE_FILTER_PATTERN
    assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    role_id = subscription["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    trust = synthesized.json["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "logs.amazonaws.com"}


def test_capture_stream_partitions_by_model_and_hour_into_the_capture_bucket(
    synthesized: Synthesized,
):
    storage = synthesized.stack.node.find_child("Storage")
    bucket = synthesized.logical_id(storage.capture_bucket)  # type: ignore[attr-defined]
    (stream,) = synthesized.resources("AWS::KinesisFirehose::DeliveryStream").values()
    props = stream["Properties"]
    assert props["DeliveryStreamName"] == "mlops-dev-capture"
    assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["BucketARN"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert s3["Prefix"] == (
        "capture/model=!{partitionKeyFromQuery:model}/"
        "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    )
    assert s3["ErrorOutputPrefix"].startswith("capture-errors/")
    assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert s3["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 64}
    processors = {
        p["Type"]: {x["ParameterName"]: x["ParameterValue"] for x in p["Parameters"]}
        for p in s3["ProcessingConfiguration"]["Processors"]
    }
    assert processors["Decompression"] == {"CompressionFormat": "GZIP"}
    assert processors["CloudWatchLogProcessing"] == {"DataMessageExtraction": "true"}
    assert processors["MetadataExtraction"]["MetadataExtractionQuery"] == "{model: .model}"
