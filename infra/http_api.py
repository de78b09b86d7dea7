"""The HTTP API front (`-c api=http`): the REST API's routes for ~$1.00 per million requests.

Same routes (mlops.serving.route_table), same targets: each route integrates with its model's `live`
alias, so the canary's weighted routing and the capture (written by the function to its logs)
work unchanged. What it gives up against the REST front (README): API keys and usage plans
(per-client quotas), request validation, gateway responses in the error contract's shape, WAF.

Payload format 1.0: the predict code reads the REST proxy event (`path`, `httpMethod`,
`requestContext.requestId`, Powertools' REST resolver), and an HTTP API sends exactly that shape
with 1.0 (tests/integration/test_http_api_event.py proves the handler's answers). The `$default`
stage has no stage segment in the path, so paths match the REST API's.
Unknown paths go to a `$default` route on the first model's function, which answers the error
contract's 404 (an HTTP API cannot reshape its own 404).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.api import BURST_LIMIT, RATE_LIMIT
from infra.nag import acknowledge
from infra.serving import PredictEndpoint, model_id
from infra.standard_function import LOG_RETENTION
from mlops.resources import ResourceNames
from mlops.serving.route_table import MODEL_ROUTES, SHARED_ROUTES

PAYLOAD_FORMAT = "1.0"
DEFAULT_STAGE = "$default"
# The access log line: the REST front's fields, as JSON (one object per request).
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"caller":"$context.identity.caller","user":"$context.identity.user",'
    '"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey","status":"$context.status",'
    '"protocol":"$context.protocol","responseLength":"$context.responseLength",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


class HttpPredictionApi(Construct):
    """An HTTP API with IAM or JWT authorization on every route, throttling and access logs.

    Attributes: `api` (the HttpApi), `stage`, `url`, `integrations` (route key -> the
    integration's resource, for tests).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        endpoints: Sequence[PredictEndpoint],
        auth: str = "iam",
        jwt_issuer: str | None = None,
        jwt_audience: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if not endpoints:
            raise ValueError("the API needs at least one model (no spec in models/?)")
        if auth not in ("iam", "jwt"):
            raise ValueError(f"an HTTP API authorizes with 'iam' or 'jwt', not '{auth}'")
        if auth == "jwt" and (not jwt_issuer or not jwt_audience):
            raise ValueError("JWT authorization needs an issuer and at least one audience")
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=names.api_name,
            description="serverless-mlops prediction API (HTTP API front)",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.stage = apigwv2.CfnStage(
            self,
            "DefaultStage",
            api_id=self.api.api_id,
            stage_name=DEFAULT_STAGE,
            auto_deploy=True,
            access_log_settings=apigwv2.CfnStage.AccessLogSettingsProperty(
                destination_arn=access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
            ),
            # Every route: the REST front's usage-plan rate, for the API as a whole (an HTTP
            # API has no per-client plans).
            default_route_settings=apigwv2.CfnStage.RouteSettingsProperty(
                throttling_rate_limit=RATE_LIMIT,
                throttling_burst_limit=BURST_LIMIT,
                detailed_metrics_enabled=True,
            ),
        )
        self.url = f"https://{self.api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
        self._authorizer_id: str | None = None
        if auth == "jwt":
            authorizer = apigwv2.CfnAuthorizer(
                self,
                "JwtAuthorizer",
                api_id=self.api.api_id,
                name=f"{names.prefix}-jwt",
                authorizer_type="JWT",
                identity_source=["$request.header.Authorization"],
                jwt_configuration=apigwv2.CfnAuthorizer.JWTConfigurationProperty(
                    issuer=jwt_issuer, audience=list(jwt_audience)
                ),
            )
            self._authorizer_id = authorizer.ref
        self._authorization = "AWS_IAM" if auth == "iam" else "JWT"
        self.integrations: dict[str, apigwv2.CfnIntegration] = {}
        for endpoint in endpoints:
            for route in MODEL_ROUTES:
                self._add_route(
                    f"{route.method} {route.path(endpoint.model)}",
                    endpoint,
                    f"{model_id(endpoint.model)}{route.name}",
                )
        for route in SHARED_ROUTES:
            self._add_route(f"{route.method} {route.template}", endpoints[0], route.name)
        self._add_route("$default", endpoints[0], "NotFound")
        self._acknowledge(access_logs)

    def _add_route(self, route_key: str, endpoint: PredictEndpoint, name: str) -> None:
        """A route on the `live` alias of `endpoint`, with its own invoke permission (on the
        alias ARN, which exists only after the custom resource ran: both depend on it)."""
        integration = apigwv2.CfnIntegration(
            self,
            f"Integration{name}",
            api_id=self.api.api_id,
            integration_type="AWS_PROXY",
            integration_uri=endpoint.alias_arn,
            integration_method="POST",
            payload_format_version=PAYLOAD_FORMAT,
        )
        integration.node.add_dependency(endpoint.live_alias)
        route = apigwv2.CfnRoute(
            self,
            f"Route{name}",
            api_id=self.api.api_id,
            route_key=route_key,
            target=f"integrations/{integration.ref}",
            authorization_type=self._authorization,
            authorizer_id=self._authorizer_id,
        )
        route.node.add_dependency(integration)
        self.integrations[route_key] = integration
        method, _, path = route_key.partition(" ")
        source = Stack.of(self).format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"*/{method}{path}" if path else "*/*",
        )
        permission = lambda_.CfnPermission(
            self,
            f"Invoke{name}",
            action="lambda:InvokeFunction",
            function_name=endpoint.alias_arn,
            principal="apigateway.amazonaws.com",
            source_arn=source,
        )
        permission.node.add_dependency(endpoint.live_alias)

    def _acknowledge(self, access_logs: logs.LogGroup) -> None:
        acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "Clients are services, not end users: every route requires IAM (SigV4) or a JWT "
            "from the issuer given at deploy (-c apiAuth=jwt); no Cognito user pool is assumed.",
        )
