"""API wiring: API keys everywhere, each model's routes on its `live` alias, the error contract
for what API Gateway answers itself."""

from __future__ import annotations

import json
from typing import Any

from infra.bundling import MODELS_DIR
from infra.serving import model_id
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized

MODELS = sorted(load_all_specs(MODELS_DIR))


def _paths(synthesized: Synthesized) -> dict[str, str]:
    """Logical id of each API resource -> its full path (e.g. /models/iris/predict)."""
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            props = resources[logical_id]["Properties"]
            parent = props["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[logical_id] = f"{prefix}/{props['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def _routes(synthesized: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> method properties."""
    paths = _paths(synthesized)
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]]): m[
            "Properties"
        ]
        for m in synthesized.resources("AWS::ApiGateway::Method").values()
    }


def _function_id(synthesized: Synthesized, model: str) -> str:
    endpoint = synthesized.stack.node.find_child(f"Serving{model_id(model)}")
    return synthesized.logical_id(endpoint.function)  # type: ignore[attr-defined]


def test_api_is_regional_and_named_from_resource_names(synthesized: Synthesized):
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"Name": "mlops-dev-api", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )


def test_every_method_requires_an_api_key(synthesized: Synthesized):
    methods = synthesized.resources("AWS::ApiGateway::Method")
    assert methods
    for logical_id, method in methods.items():
        assert method["Properties"]["ApiKeyRequired"] is True, logical_id


def test_each_model_has_native_and_open_inference_protocol_routes(synthesized: Synthesized):
    expected = {("GET", "/openapi.json")}
    for model in MODELS:
        expected |= {
            ("GET", f"/models/{model}"),
            ("POST", f"/models/{model}/predict"),
            ("POST", f"/models/{model}/feedback"),
            ("GET", f"/v2/models/{model}"),
            ("GET", f"/v2/models/{model}/ready"),
            ("POST", f"/v2/models/{model}/infer"),
        }
    assert set(_routes(synthesized)) == expected


def test_model_routes_invoke_that_models_live_alias(synthesized: Synthesized):
    routes = _routes(synthesized)
    for model in MODELS:
        function_id = _function_id(synthesized, model)
        for key in (
            ("GET", f"/models/{model}"),
            ("POST", f"/models/{model}/predict"),
            ("POST", f"/v2/models/{model}/infer"),
            ("GET", f"/v2/models/{model}"),
            ("GET", f"/v2/models/{model}/ready"),
        ):
            integration = routes[key]["Integration"]
            assert integration["Type"] == "AWS_PROXY"
            assert integration["IntegrationHttpMethod"] == "POST"
            uri = integration["Uri"]["Fn::Join"][1]
            assert {"Fn::GetAtt": [function_id, "Arn"]} in uri
            after_arn = uri[uri.index({"Fn::GetAtt": [function_id, "Arn"]}) + 1]
            assert after_arn == ":live/invocations"


def test_invoke_permissions_target_the_alias_once_it_exists(synthesized: Synthesized):
    permissions = synthesized.resources("AWS::Lambda::Permission")
    for model in MODELS:
        function_id = _function_id(synthesized, model)
        alias_arn = {"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":live"]]}
        mine = [p for p in permissions.values() if p["Properties"]["FunctionName"] == alias_arn]
        # describe, predict, feedback, v2 metadata, ready and infer (+ openapi.json on the
        # first model's function)
        assert len(mine) in (6, 7)
        live_alias = [
            logical_id
            for logical_id, r in synthesized.resources("Custom::LiveAlias").items()
            if r["Properties"]["ModelName"] == model
        ]
        assert len(live_alias) == 1  # else the subset check below holds for an empty set
        for permission in mine:
            assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
            assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
            assert set(live_alias) <= set(permission.get("DependsOn", []))


def test_unknown_routes_answer_the_error_contracts_404(synthesized: Synthesized):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synthesized.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in ("MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"):
        response = responses[response_type]
        assert response["StatusCode"] == "404"
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body["error"]["code"] == "not_found"
        assert body["error"]["details"] == {}
    for response_type, status in (
        ("INVALID_API_KEY", "403"),
        ("THROTTLED", "429"),
        ("REQUEST_TOO_LARGE", "413"),
    ):
        assert responses[response_type]["StatusCode"] == status
        template = responses[response_type]["ResponseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": ')
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)


def test_usage_plan_throttles_the_stage_and_holds_the_api_key(synthesized: Synthesized):
    (plan_id, plan), *_ = synthesized.resources("AWS::ApiGateway::UsagePlan").items()
    assert plan["Properties"]["Throttle"] == {"RateLimit": 100, "BurstLimit": 200}
    assert plan["Properties"]["ApiStages"][0]["Stage"]
    (key_id,) = synthesized.resources("AWS::ApiGateway::ApiKey")
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlanKey",
        {"UsagePlanId": {"Ref": plan_id}, "KeyId": {"Ref": key_id}, "KeyType": "API_KEY"},
    )


def test_stage_has_access_logs_tracing_and_method_logging(synthesized: Synthesized):
    (stage,) = synthesized.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    access_log = props["AccessLogSetting"]
    assert access_log["DestinationArn"]["Fn::GetAtt"][1] == "Arn"
    assert json.loads(access_log["Format"])["requestId"] == "$context.requestId"
    (settings,) = props["MethodSettings"]
    assert settings["LoggingLevel"] != "OFF"
    assert settings["MetricsEnabled"] is True
    assert settings["DataTraceEnabled"] is False


def test_requests_are_validated_by_the_gateway(synthesized: Synthesized):
    (validator_id,) = synthesized.resources("AWS::ApiGateway::RequestValidator")
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["RequestValidatorId"] == {"Ref": validator_id}


def test_each_invoke_permission_is_scoped_to_its_own_method_and_path(synthesized: Synthesized):
    """The v2 routes get their own permissions, each limited to its method and resource path
    (execute-api ARN .../<stage>/<METHOD>/<path>), not a wildcard over the API."""
    source_arns = [
        json.dumps(p["Properties"]["SourceArn"])
        for p in synthesized.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    for model in MODELS:
        for method, path in (
            ("POST", f"/v2/models/{model}/infer"),
            ("GET", f"/v2/models/{model}"),
            ("GET", f"/v2/models/{model}/ready"),
        ):
            assert sum(arn.endswith(f'/{method}{path}"]]}}') for arn in source_arns) == 1, path
