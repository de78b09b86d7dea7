"""The public API: REST API Gateway in front of each model's `live` alias.

API Gateway does what a Lambda should not pay for: authentication (API keys, or IAM), throttling
and quota (usage plan), the 10 MB payload cap and the 404 for unknown routes. Every error it
produces itself is shaped like the handler's error contract (DESIGN §3):
`{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge
from infra.serving import PredictEndpoint, model_id
from infra.settings import ApiAuth
from infra.standard_function import LOG_RETENTION
from mlops.resources import ResourceNames
from mlops.serving.route_table import MODEL_ROUTES, SHARED_ROUTES

RATE_LIMIT = 100
BURST_LIMIT = 200
# The stage's default method throttle caps the whole API (every key together) at a tenth of the
# account's regional API Gateway quota (10,000 requests/s shared by every API in the account),
# so one stack, or one stage of it, never starves the others; each key keeps RATE_LIMIT.
STAGE_RATE_LIMIT = 1000
STAGE_BURST_LIMIT = 2000
STAGE_NAME = "prod"


def _error_body(code: str, message: str | None) -> str:
    """A gateway response template in the error contract's shape.

    `message=None` uses API Gateway's own message; `$context.error.messageString` is already a
    quoted JSON string.
    """
    quoted = "$context.error.messageString" if message is None else json.dumps(message)
    return f'{{"error": {{"code": {json.dumps(code)}, "message": {quoted}, "details": {{}}}}}}'


# (response type, status code or None to keep API Gateway's, error code, message or None)
GATEWAY_RESPONSES: list[tuple[apigw.ResponseType, str | None, str, str | None]] = [
    # An unknown path (or a model without a resource) is "Missing Authentication Token" (403)
    # in API Gateway's words; to the client it is the contract's 404.
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found", "no such model or route"),
    (apigw.ResponseType.RESOURCE_NOT_FOUND, "404", "not_found", "no such model or route"),
    (apigw.ResponseType.INVALID_API_KEY, "403", "forbidden", "missing or invalid API key"),
    (apigw.ResponseType.ACCESS_DENIED, "403", "forbidden", None),
    (apigw.ResponseType.THROTTLED, "429", "too_many_requests", "rate limit exceeded; retry later"),
    (apigw.ResponseType.QUOTA_EXCEEDED, "429", "quota_exceeded", "usage plan quota exceeded"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, "413", "payload_too_large", None),
    (apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, "415", "unsupported_media_type", None),
    (apigw.ResponseType.BAD_REQUEST_PARAMETERS, "400", "bad_request", None),
    (apigw.ResponseType.BAD_REQUEST_BODY, "400", "bad_request", None),
    (apigw.ResponseType.DEFAULT_4_XX, None, "bad_request", None),
    (apigw.ResponseType.INTEGRATION_TIMEOUT, "504", "timeout", "the model did not answer in time"),
    # Never a stack trace or an internal message: a fixed sentence.
    (apigw.ResponseType.DEFAULT_5_XX, None, "unavailable", "the service could not answer"),
]


class PredictionApi(Construct):
    """REST API with one resource tree per model, usage plan, API key and access logs.

    Attributes: `api`, `api_key`, `usage_plan`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        endpoints: Sequence[PredictEndpoint],
        auth: ApiAuth = "apiKey",
    ) -> None:
        super().__init__(scope, construct_id)
        if not endpoints:
            raise ValueError("the API needs at least one model (no spec in models/?)")
        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=names.api_name,
            description="serverless-mlops prediction API",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            # Method logging needs the account-level CloudWatch role.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Request/response bodies would put user data in the execution logs.
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=STAGE_RATE_LIMIT,
                throttling_burst_limit=STAGE_BURST_LIMIT,
            ),
        )
        # The stack publishes the URL once, as ApiUrl; drop RestApi's own auto-named output.
        self.api.node.try_remove_child("Endpoint")
        # The handler validates bodies against the spec (pydantic) and answers 422 with
        # details; without a request model the gateway's body check only admits the request.
        self.validator = self.api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        self._auth = auth
        for endpoint in endpoints:
            self._add_model(endpoint)
        # The OpenAPI document is generated by the predict code (any model's function has it).
        for route in SHARED_ROUTES:
            resource = self._resource(route.template)
            self._add_method(resource, route.method, endpoints[0], route.name)
        for response_type, status, code, message in GATEWAY_RESPONSES:
            self.api.add_gateway_response(
                f"Response{response_type.response_type}",
                type=response_type,
                status_code=status,
                templates={"application/json": _error_body(code, message)},
            )

        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            name=f"{names.prefix}-default",
            throttle=apigw.ThrottleSettings(rate_limit=RATE_LIMIT, burst_limit=BURST_LIMIT),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.api_key = apigw.ApiKey(self, "ApiKey", api_key_name=f"{names.prefix}-default")
        self.usage_plan.add_api_key(self.api_key)
        self._acknowledge()

    def _add_model(self, endpoint: PredictEndpoint) -> None:
        """Every per-model route (mlops.serving.route_table: native and Open Inference
        Protocol) as an explicit resource and method on the model's alias: any other model
        name is the gateway's 404."""
        prefix = model_id(endpoint.model)
        for route in MODEL_ROUTES:
            resource = self._resource(route.path(endpoint.model))
            self._add_method(resource, route.method, endpoint, f"{prefix}{route.name}")

    def _resource(self, path: str) -> apigw.IResource:
        """The resource for `path`, created part by part where missing (the construct ids are
        the path parts, as `add_resource` names them)."""
        resource: apigw.IResource = self.api.root
        for part in path.strip("/").split("/"):
            resource = resource.get_resource(part) or resource.add_resource(part)
        return resource

    def _add_method(
        self, resource: apigw.IResource, http_method: str, endpoint: PredictEndpoint, name: str
    ) -> apigw.Method:
        """A Lambda proxy method on the `live` alias, with its own invoke permission.

        The permission is explicit (not LambdaIntegration's) because its target is the alias
        ARN, which exists only after the custom resource ran: both depend on it.
        """
        integration = apigw.Integration(
            type=apigw.IntegrationType.AWS_PROXY,
            integration_http_method="POST",
            uri=(
                f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/"
                f"{endpoint.alias_arn}/invocations"
            ),
        )
        method = resource.add_method(
            http_method,
            integration,
            api_key_required=True,
            authorization_type=(
                apigw.AuthorizationType.IAM if self._auth == "iam" else apigw.AuthorizationType.NONE
            ),
            request_validator=self.validator,
        )
        method.node.add_dependency(endpoint.live_alias)
        permission = lambda_.CfnPermission(
            self,
            f"Invoke{name}",
            action="lambda:InvokeFunction",
            function_name=endpoint.alias_arn,
            principal="apigateway.amazonaws.com",
            source_arn=self.api.arn_for_execute_api(http_method, resource.path, "*"),
        )
        permission.node.add_dependency(endpoint.live_alias)
        return method

    def _acknowledge(self) -> None:
        """The authentication choice, stated once: API keys + usage plan, or IAM."""
        acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "Clients are services, not end users: they authenticate with API keys bound to a "
            "usage plan (throttling, quota), or with IAM when deployed with -c apiAuth=iam.",
        )
        if self._auth != "iam":
            acknowledge(
                self.api,
                "AwsSolutions-APIG4",
                "Authentication is an API key on every method, tied to a usage plan; IAM "
                "authorization is available with -c apiAuth=iam.",
            )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "No WAF by default (it costs per web ACL and rule); the API is protected by API keys, "
            "a usage plan's throttling and API Gateway's payload limit. Attach a web ACL to the "
            "stage where the traffic warrants it.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway uses to write execution logs; the AWS managed "
            "policy is the one AWS designed for exactly this.",
        )
