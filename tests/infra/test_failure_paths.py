"""Where a failure goes, for the paths cdk-nag's Serverless pack asks about and the stack fixes
(the findings it acknowledges instead carry their reasons in infra/nag.py)."""

from __future__ import annotations

from typing import Any

from infra.api import STAGE_BURST_LIMIT, STAGE_RATE_LIMIT
from infra.serving import PROVIDER_FRAMEWORK_MEMORY_MB
from tests.infra.conftest import Synthesized


def _dead_letter_queue_of(synthesized: Synthesized, construct_id: str) -> str:
    construct: Any = synthesized.stack.node.find_child(construct_id)
    return synthesized.logical_id(construct.dead_letter_queue)


def test_every_rule_target_sends_undeliverable_events_to_its_consumers_dlq(
    synthesized: Synthesized,
):
    rules = synthesized.resources("AWS::Events::Rule")
    expected = {"Rollout": 2, "Drift": 2}  # ModelRegistered + schedule; one schedule per model
    seen = dict.fromkeys(expected, 0)
    for logical_id, rule in rules.items():
        owner = next(name for name in expected if logical_id.startswith(name))
        dlq = _dead_letter_queue_of(synthesized, owner)
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}, logical_id
        seen[owner] += 1
    assert seen == expected


def test_the_api_stage_has_a_default_method_throttle(synthesized: Synthesized):
    (stage,) = synthesized.resources("AWS::ApiGateway::Stage").values()
    (settings,) = [
        s
        for s in stage["Properties"]["MethodSettings"]
        if s["ResourcePath"] == "/*" and s["HttpMethod"] == "*"
    ]
    assert settings["ThrottlingRateLimit"] == STAGE_RATE_LIMIT
    assert settings["ThrottlingBurstLimit"] == STAGE_BURST_LIMIT


def test_the_custom_resource_framework_function_states_its_memory(synthesized: Synthesized):
    setup: Any = synthesized.stack.node.find_child("ServingSetup")
    framework = setup.provider.node.find_child("framework-onEvent")
    resource = synthesized.json["Resources"][synthesized.logical_id(framework)]
    assert resource["Properties"]["MemorySize"] == PROVIDER_FRAMEWORK_MEMORY_MB
