"""What the CLI reads (outputs), what pages someone (alarms), and the settings from context."""

from __future__ import annotations

import pytest
from aws_cdk import App

from infra.bundling import MODELS_DIR
from infra.serving import model_id
from infra.settings import StackSettings
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized

BASE_OUTPUTS = {
    "DataBucketName",
    "ModelBucketName",
    "CaptureBucketName",
    "RegistryTableName",
    "TrainingQueueUrl",
    "AlertsTopicArn",
    "TrainFunctionName",
    "RolloutFunctionName",
    "DriftFunctionName",
    "DriftScheduleQueueUrl",
    "ApiUrl",
    "ApiKeyId",
}


def test_outputs_name_every_resource_the_cli_needs(synthesized: Synthesized):
    models = load_all_specs(MODELS_DIR)
    outputs = synthesized.json["Outputs"]
    assert set(outputs) == BASE_OUTPUTS | {f"PredictFunction{model_id(m)}" for m in models}
    for model in models:
        assert outputs[f"PredictFunction{model_id(model)}"]["Value"] == {
            "Ref": synthesized.logical_id(
                synthesized.stack.node.find_child(f"Serving{model_id(model)}").function  # type: ignore[attr-defined]
            )
        }


def test_model_ids_are_alphanumeric():
    assert model_id("iris") == "Iris"
    assert model_id("house-prices_v2") == "HousePricesV2"


def _alarm_topics(synthesized: Synthesized) -> dict[str, list[object]]:
    return {
        alarm["Properties"]["AlarmDescription"]: alarm["Properties"]["AlarmActions"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
    }


def test_a_message_in_the_dlq_alarms_the_alerts_topic(synthesized: Synthesized):
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    training = synthesized.stack.node.find_child("Training")
    dlq_name = synthesized.resolve(training.dead_letter_queue.queue_name)  # type: ignore[attr-defined]
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": dlq_name}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_each_predict_function_has_an_errors_alarm(synthesized: Synthesized):
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    for model in load_all_specs(MODELS_DIR):
        endpoint = synthesized.stack.node.find_child(f"Serving{model_id(model)}")
        synthesized.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": "Errors",
                "Namespace": "AWS/Lambda",
                "Dimensions": [
                    {
                        "Name": "FunctionName",
                        "Value": {"Ref": synthesized.logical_id(endpoint.function)},  # type: ignore[attr-defined]
                    }
                ],
                "AlarmActions": [{"Ref": topic_id}],
            },
        )


def test_context_defaults():
    settings = StackSettings.from_context(App().node)
    assert settings == StackSettings()
    assert settings.prefix == "mlops-dev"
    assert settings.alert_email is None


def test_context_values_are_read():
    app = App(
        context={
            "prefix": "staging",
            "alertEmail": "ops@example.com",
            "codeVersion": "abc123",
            "apiAuth": "iam",
        }
    )
    assert StackSettings.from_context(app.node) == StackSettings(
        prefix="staging",
        alert_email="ops@example.com",
        code_version="abc123",
        api_auth="iam",
    )


def test_unknown_api_auth_is_refused():
    with pytest.raises(ValueError, match="apiAuth"):
        StackSettings.from_context(App(context={"apiAuth": "cognito"}).node)
