"""Rollout wiring: what triggers the reconciler, what it may touch, and that nothing else moves
alias `live` (DESIGN §7: the alias is never a CloudFormation resource)."""

from __future__ import annotations

from typing import Any

from infra.rollout import ROLLOUT_LAMBDA_ACTIONS
from mlops.resources import EVENT_SOURCE
from tests.infra.conftest import Synthesized
from tests.infra.test_training import _as_list, _statements_of_role

ALIAS_WRITES = {"lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias"}


def _rollout(synthesized: Synthesized) -> Any:
    return synthesized.stack.node.find_child("Rollout")


def _rollout_function(synthesized: Synthesized) -> dict[str, Any]:
    resource: dict[str, Any] = synthesized.json["Resources"][
        synthesized.logical_id(_rollout(synthesized).function)
    ]
    return resource


def test_the_template_has_no_alias_and_nothing_that_updates_one(synthesized: Synthesized):
    assert not synthesized.resources("AWS::Lambda::Alias")
    # Nothing in the template moves an alias on a deploy: the only custom resources touching
    # predict functions are the LiveAlias ones, whose properties are names only (never updated).
    for resource in synthesized.resources("Custom::LiveAlias").values():
        assert set(resource["Properties"]) == {"ServiceToken", "FunctionName", "ModelName"}
    rollout_role = synthesized.logical_id(_rollout(synthesized).function.role)
    setup: Any = synthesized.stack.node.find_child("ServingSetup")
    setup_role = synthesized.logical_id(setup.role)
    holders: set[str] = set()
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if ALIAS_WRITES & set(_as_list(statement["Action"])):
                holders.update(role["Ref"] for role in policy["Properties"]["Roles"])
    assert holders == {rollout_role, setup_role}


def test_model_registered_and_the_schedule_reach_the_rollout_queue(synthesized: Synthesized):
    queue = {"Fn::GetAtt": [synthesized.logical_id(_rollout(synthesized).queue), "Arn"]}
    rules = list(synthesized.resources("AWS::Events::Rule").values())
    registered = [
        r
        for r in rules
        if r["Properties"].get("EventPattern")
        == {"source": [EVENT_SOURCE], "detail-type": ["ModelRegistered"]}
    ]
    scheduled = [r for r in rules if r["Properties"].get("ScheduleExpression") == "rate(1 minute)"]
    assert len(registered) == 1 and len(scheduled) == 1
    for rule in (*registered, *scheduled):
        assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [queue]


def test_rollout_consumes_one_message_at_a_time(synthesized: Synthesized):
    rollout = _rollout(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": synthesized.logical_id(rollout.function)},
            "EventSourceArn": {"Fn::GetAtt": [synthesized.logical_id(rollout.queue), "Arn"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_rollout_runs_the_train_image_with_its_own_command(synthesized: Synthesized):
    props = _rollout_function(synthesized)["Properties"]
    training: Any = synthesized.stack.node.find_child("Training")
    train = synthesized.json["Resources"][synthesized.logical_id(training.function)]["Properties"]
    assert props["PackageType"] == "Image"
    assert props["ImageConfig"] == {"Command": ["rollout.handler.handler"]}
    assert props["Code"] == train["Code"]  # one image asset for both
    env = props["Environment"]["Variables"]
    assert set(env) >= {
        "REGISTRY_TABLE",
        "MODEL_BUCKET",
        "CAPTURE_BUCKET",
        "ALERTS_TOPIC_ARN",
        "RESOURCE_PREFIX",
    }
    assert "MLOPS_ROLLOUT_MINUTE_SECONDS" not in env  # real minutes on AWS
    assert env["MODEL_NAMES"] == "diabetes,iris"  # only models with a predict function


def test_rollout_may_publish_and_route_only_the_predict_functions(synthesized: Synthesized):
    role = synthesized.logical_id(_rollout(synthesized).function.role)
    predict = {
        synthesized.logical_id(endpoint.function)  # type: ignore[attr-defined]
        for endpoint in synthesized.stack.node.children
        if hasattr(endpoint, "alias_arn")
    }
    lambda_statements = [
        s
        for s in _statements_of_role(synthesized, role)
        if any(str(a).startswith("lambda:") for a in _as_list(s["Action"]))
    ]
    assert len(lambda_statements) == 1
    (statement,) = lambda_statements
    assert sorted(_as_list(statement["Action"])) == sorted(ROLLOUT_LAMBDA_ACTIONS)
    targets = {json_ref for r in statement["Resource"] for json_ref in _arn_targets(r)}
    assert targets == predict


def test_only_get_metric_data_has_a_star_resource(synthesized: Synthesized):
    role = synthesized.logical_id(_rollout(synthesized).function.role)
    star = [
        a
        for s in _statements_of_role(synthesized, role)
        if s["Resource"] == "*"
        for a in _as_list(s["Action"])
    ]
    assert set(star) <= {
        "cloudwatch:GetMetricData",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert "cloudwatch:GetMetricData" in star


def _arn_targets(resource: Any) -> list[str]:
    """The logical ids a function ARN (or `<arn>:*`) refers to."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return [resource["Fn::GetAtt"][0]]
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return [p["Fn::GetAtt"][0] for p in resource["Fn::Join"][1] if isinstance(p, dict)]
    return [str(resource)]
