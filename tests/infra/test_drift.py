"""Drift wiring: a schedule per model delivered through SQS, the train image with the drift
handler, and what the drift function may touch (tests/iam proves each grant is used)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk.aws_events import Schedule

from infra.app import MODELS_DIR
from infra.drift import DRIFT_HANDLER
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized


def _drift(synthesized: Synthesized) -> Any:
    return synthesized.stack.node.find_child("Drift")


def _function(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    resource: dict[str, Any] = synthesized.json["Resources"][synthesized.logical_id(construct)]
    return resource


def test_one_schedule_per_model_at_its_spec_rate_into_the_drift_queue(
    synthesized: Synthesized,
) -> None:
    specs = load_all_specs(MODELS_DIR)
    drift = _drift(synthesized)
    queue_arn = {"Fn::GetAtt": [synthesized.logical_id(drift.queue), "Arn"]}
    seen = {}
    for rule in synthesized.resources("AWS::Events::Rule").values():
        props = rule["Properties"]
        if "ScheduleExpression" not in props:
            continue
        (target,) = props["Targets"]
        if target["Arn"] != queue_arn:
            continue
        template = target["InputTransformer"]["InputTemplate"]
        assert target["InputTransformer"]["InputPathsMap"] == {"time": "$.time"}
        model = next(name for name in specs if f'"model":"{name}"' in template)
        assert '"time":<time>' in template
        seen[model] = props["ScheduleExpression"]
    assert seen == {
        name: Schedule.rate(Duration.minutes(spec.drift.schedule_minutes)).expression_string
        for name, spec in specs.items()
    }


def test_drift_function_is_the_train_image_with_the_drift_handler(
    synthesized: Synthesized,
) -> None:
    drift = _function(synthesized, _drift(synthesized).function)["Properties"]
    training: Any = synthesized.stack.node.find_child("Training")
    train = _function(synthesized, training.function)["Properties"]
    assert drift["PackageType"] == "Image"
    assert drift["ImageConfig"]["Command"] == [DRIFT_HANDLER]
    assert drift["Code"]["ImageUri"] == train["Code"]["ImageUri"]  # one image asset, built once
    environment = drift["Environment"]["Variables"]
    assert {"MODEL_BUCKET", "CAPTURE_BUCKET", "REGISTRY_TABLE", "ALERTS_TOPIC_ARN"} <= set(
        environment
    )


def test_drift_queue_feeds_the_function_with_partial_batch_failures(
    synthesized: Synthesized,
) -> None:
    drift = _drift(synthesized)
    function_id = synthesized.logical_id(drift.function)
    queue_id = synthesized.logical_id(drift.queue)
    mappings = [
        m["Properties"]
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(mappings) == 1
    assert mappings[0]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mappings[0]["BatchSize"] == 1
    queue = synthesized.json["Resources"][queue_id]["Properties"]
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]


# capture bucket: capture/ (read), compacted/ and reports/ (read, write); model bucket: models/
# (read); data bucket: labelled/ (read) and training/ (write), for a spec's retrain_on_drift.
PREFIXES = ("capture/*", "compacted/*", "reports/*", "models/*", "labelled/*", "training/*")


def test_drift_role_touches_only_its_prefixes(
    synthesized: Synthesized,
) -> None:
    import json

    drift = _drift(synthesized)
    role_id = synthesized.logical_id(drift.function.role)
    object_resources: set[str] = set()
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            services = {action.split(":")[0] for action in actions}
            if services & {"s3", "dynamodb", "sns", "kms", "sqs"}:
                assert not any(a.endswith(":*") for a in actions), statement
                assert statement["Resource"] != "*", statement
            if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions):
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    object_resources.add(json.dumps(resource))
    prefixes = {
        prefix for resource in object_resources for prefix in PREFIXES if f'"/{prefix}"' in resource
    }
    assert prefixes == set(PREFIXES)
    assert len(object_resources) == len(PREFIXES)  # nothing beyond those prefixes
