"""Every function's shared defaults: arm64, X-Ray, a log group with retention, its own role.

One place for them keeps the stack short (STYLE.md) and gives each function a role that can write
only to its own log group, instead of the AWS managed AWSLambdaBasicExecutionRole (logs:* on
every log group in the account).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_12
# A construct's default only: the stage's retention replaces it on every log group at synth
# (infra/stage.py; dev 7 days, prod 90).
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Why not the newest Python runtime (cdk-nag's L1 and LambdaLatestVersion): the version must move
# everywhere at once, and only a real build can prove the move.
RUNTIME_PIN_REASON = (
    "Pinned to python3.12 on purpose: the inference layer's wheels (cp312) and the Powertools "
    "layer (python312) are built for it, the train/rollout/drift image is python:3.12 pinned by "
    "digest, and constraints.txt is one set of versions for all three; runtime, layers, image "
    "and constraints move together, in one change proven by a layer build and an image build."
)


class StandardFunction(Construct):
    """A Lambda function (zip or container image) with the project's defaults.

    `code` decides the kind: a `DockerImageCode` makes an image function (no handler, no
    runtime), a `Code` makes a python3.12 zip function that needs `handler`.
    Exposes `function`, `role` and `log_group` for grants, subscriptions and alarms.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        code: lambda_.Code | lambda_.DockerImageCode,
        description: str,
        memory_size: int,
        timeout: Duration,
        environment: Mapping[str, str],
        handler: str | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        reserved_concurrent_executions: int | None = None,
        snap_start: lambda_.SnapStartConf | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # A fixed name lets the CLI and the local stack find the logs; DESTROY because a retained
        # group with a fixed name would make the next deploy of a deleted stack fail.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        common: dict[str, Any] = {
            "function_name": function_name,
            "description": description,
            "architecture": lambda_.Architecture.ARM_64,
            "memory_size": memory_size,
            "timeout": timeout,
            "environment": dict(environment),
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": self.log_group,
            "role": self.role,
            "reserved_concurrent_executions": reserved_concurrent_executions,
        }
        if snap_start is not None:  # zip functions only (SnapStart takes no container image)
            common["snap_start"] = snap_start
        if isinstance(code, lambda_.DockerImageCode):
            self.function: lambda_.Function = lambda_.DockerImageFunction(
                self, "Function", code=code, **common
            )
        else:
            if handler is None:
                raise ValueError(f"{function_name}: a zip function needs a handler")
            self.function = lambda_.Function(
                self,
                "Function",
                code=code,
                handler=handler,
                runtime=PYTHON_RUNTIME,
                layers=list(layers),
                **common,
            )
            for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
                acknowledge(self.function, rule, RUNTIME_PIN_REASON)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions; "
            "CDK adds them for active tracing. No data resource is granted with Resource '*'.",
        )
