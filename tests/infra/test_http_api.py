"""The HTTP API front (`-c api=http`) and SnapStart (`-c snapStart=true`) in the template.

Same routes as the REST front (both read mlops.serving.route_table; compared here from the two
templates), each integrated with its model's `live` alias (canary routing and capture live
there) with payload format 1.0 (the shape the handler reads; tests/integration/
test_http_api_event.py), IAM or JWT on every route, throttling and access logs on the stage,
and cdk-nag's AwsSolutions checks passing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.bundling import MODELS_DIR
from infra.serving import model_id
from infra.settings import StackSettings
from mlops.serving.route_table import MODEL_ROUTES, SHARED_ROUTES
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized, synthesize

SPECS = load_all_specs(MODELS_DIR)
JWT = {"jwtIssuer": "https://issuer.example.com/pool", "jwtAudience": "client-a, client-b"}


@pytest.fixture(scope="module")
def http_api(tmp_path_factory: pytest.TempPathFactory, inference_layer_dir: Path) -> Synthesized:
    """HTTP API + SnapStart, synthesized with cdk-nag's checks on (a finding raises)."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"),
        inference_layer_dir,
        checks=True,
        context={"api": "http", "snapStart": "true"},
    )


@pytest.fixture(scope="module")
def jwt_api(tmp_path_factory: pytest.TempPathFactory, inference_layer_dir: Path) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"),
        inference_layer_dir,
        checks=True,
        context={"api": "http", "apiAuth": "jwt", **JWT},
    )


def properties(synthesized: Synthesized, resource_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in synthesized.resources(resource_type).values()]


def rest_routes(synthesized: Synthesized) -> set[str]:
    """`METHOD /path` of every REST method, the path rebuilt from the resource tree."""
    resources = synthesized.resources("AWS::ApiGateway::Resource")

    def path(reference: Any) -> str:
        if isinstance(reference, dict) and "Ref" in reference:
            resource = resources[reference["Ref"]]["Properties"]
            return f"{path(resource['ParentId'])}/{resource['PathPart']}"
        return ""  # Fn::GetAtt RootResourceId

    return {
        f"{m['HttpMethod']} {path(m['ResourceId'])}"
        for m in properties(synthesized, "AWS::ApiGateway::Method")
    }


def alias_arn(synthesized: Synthesized, model: str) -> dict[str, Any]:
    endpoint = synthesized.stack.node.find_child(f"Serving{model_id(model)}")
    resolved: dict[str, Any] = synthesized.resolve(endpoint.alias_arn)  # type: ignore[attr-defined]
    return resolved


def test_http_front_replaces_the_rest_api(http_api: Synthesized) -> None:
    (api,) = properties(http_api, "AWS::ApiGatewayV2::Api")
    assert api["ProtocolType"] == "HTTP"
    assert not http_api.resources("AWS::ApiGateway::RestApi")
    assert not http_api.resources("AWS::ApiGateway::ApiKey")
    assert "ApiUrl" in http_api.json["Outputs"] and "ApiKeyId" not in http_api.json["Outputs"]


def test_both_fronts_serve_the_same_routes(http_api: Synthesized, synthesized: Synthesized) -> None:
    http = {r["RouteKey"] for r in properties(http_api, "AWS::ApiGatewayV2::Route")}
    expected = {
        f"{route.method} {route.path(model)}"
        for route in (*MODEL_ROUTES, *SHARED_ROUTES)
        for model in (SPECS if route in MODEL_ROUTES else [""])
    }
    assert rest_routes(synthesized) == expected
    # The HTTP API adds only the catch-all that answers the error contract's 404.
    assert http == expected | {"$default"}


def test_each_route_integrates_its_model_s_live_alias_with_payload_1_0(
    http_api: Synthesized,
) -> None:
    integrations = http_api.resources("AWS::ApiGatewayV2::Integration")
    for route in properties(http_api, "AWS::ApiGatewayV2::Route"):
        target = route["Target"]["Fn::Join"][1]
        integration = integrations[target[1]["Ref"]]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "1.0"
        key = route["RouteKey"]
        model = next((m for m in SPECS if f"/models/{m}" in key), sorted(SPECS)[0])
        # The alias (not $LATEST, not a version): canary weights and capture live there.
        assert integration["IntegrationUri"] == alias_arn(http_api, model), key


def test_every_route_requires_iam_by_default(http_api: Synthesized) -> None:
    routes = properties(http_api, "AWS::ApiGatewayV2::Route")
    assert routes and all(r["AuthorizationType"] == "AWS_IAM" for r in routes)
    assert not http_api.resources("AWS::ApiGatewayV2::Authorizer")


def test_jwt_auth_puts_the_authorizer_on_every_route(jwt_api: Synthesized) -> None:
    ((authorizer_id, authorizer),) = jwt_api.resources("AWS::ApiGatewayV2::Authorizer").items()
    configuration = authorizer["Properties"]["JwtConfiguration"]
    assert configuration == {
        "Issuer": JWT["jwtIssuer"],
        "Audience": ["client-a", "client-b"],
    }
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    for route in properties(jwt_api, "AWS::ApiGatewayV2::Route"):
        assert route["AuthorizationType"] == "JWT"
        assert route["AuthorizerId"] == {"Ref": authorizer_id}


def test_the_stage_throttles_and_writes_access_logs(http_api: Synthesized) -> None:
    (stage,) = properties(http_api, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    logs = stage["AccessLogSettings"]
    (log_group,) = [
        logical_id
        for logical_id in http_api.resources("AWS::Logs::LogGroup")
        if logical_id.startswith("HttpApiAccessLogs")
    ]
    assert logs["DestinationArn"] == {"Fn::GetAtt": [log_group, "Arn"]}
    assert "$context.requestId" in logs["Format"] and "$context.status" in logs["Format"]


def test_api_gateway_may_invoke_each_alias_from_this_api_only(http_api: Synthesized) -> None:
    (api_id,) = http_api.resources("AWS::ApiGatewayV2::Api")
    permissions = [
        p
        for p in properties(http_api, "AWS::Lambda::Permission")
        if p["Principal"] == "apigateway.amazonaws.com"
    ]
    routes = properties(http_api, "AWS::ApiGatewayV2::Route")
    assert len(permissions) == len(routes)
    aliases = [alias_arn(http_api, model) for model in SPECS]
    for permission in permissions:
        assert permission["FunctionName"] in aliases
        assert {"Ref": api_id} in permission["SourceArn"]["Fn::Join"][1]


def test_api_5xx_alarm_reads_the_http_api_s_metric(http_api: Synthesized) -> None:
    (api_id,) = http_api.resources("AWS::ApiGatewayV2::Api")
    (alarm,) = [
        a for a in properties(http_api, "AWS::CloudWatch::Alarm") if a.get("MetricName") == "5xx"
    ]
    assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["Statistic"] == "Average"
    assert alarm["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": api_id}}]


# -- SnapStart ------------------------------------------------------------------------------
def functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items()
    }


def test_snap_start_applies_to_the_predict_functions_published_versions(
    http_api: Synthesized,
) -> None:
    predict = {
        http_api.logical_id(http_api.stack.node.find_child(f"Serving{model_id(m)}").function)  # type: ignore[attr-defined]
        for m in SPECS
    }
    for logical_id, function in functions(http_api).items():
        if logical_id in predict:
            assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
            # Supported as deployed (AWS: python3.12+, both architectures; README).
            assert (function["Runtime"], function["Architectures"]) == ("python3.12", ["arm64"])
        else:
            assert "SnapStart" not in function, logical_id


def test_snap_start_is_off_by_default(synthesized: Synthesized) -> None:
    assert all("SnapStart" not in f for f in functions(synthesized).values())


# -- context --------------------------------------------------------------------------------
def settings(**context: str) -> StackSettings:
    return StackSettings.from_context(App(context=context).node)


def test_http_front_defaults_to_iam_and_rest_stays_the_default() -> None:
    assert (settings().api_front, settings().api_auth) == ("rest", "apiKey")
    assert (settings(api="http").api_front, settings(api="http").api_auth) == ("http", "iam")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"api": "http", "apiAuth": "jwt"}, "needs jwtIssuer and jwtAudience"),
        ({"api": "http", "apiAuth": "jwt", "jwtIssuer": "https://x"}, "needs jwtAudience"),
        ({"api": "http", "apiAuth": "apiKey"}, "HTTP API has no API keys"),
        ({"apiAuth": "jwt"}, "add -c api=http"),
        ({"api": "graphql"}, "api must be 'rest' or 'http'"),
        ({"snapStart": "yes"}, "snapStart must be 'true' or 'false'"),
    ],
)
def test_context_that_cannot_work_is_refused_with_what_to_set(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**context)


def test_jwt_context_is_read() -> None:
    read = settings(api="http", apiAuth="jwt", **JWT)
    assert (read.jwt_issuer, read.jwt_audience) == (JWT["jwtIssuer"], ("client-a", "client-b"))


@pytest.mark.parametrize("front", ["rest", "http"])
def test_the_shipped_cdk_json_admits_either_front(front: str) -> None:
    """`npx cdk synth -c api=http` reads cdk.json's context too: a pinned apiAuth there once
    made every HTTP synth fail."""
    import json
    from pathlib import Path

    from aws_cdk import App

    from infra.settings import StackSettings

    context = json.loads((Path(__file__).parents[2] / "cdk.json").read_text())["context"]
    settings = StackSettings.from_context(App(context={**context, "api": front}).node)
    assert settings.api_front == front
