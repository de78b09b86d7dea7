"""Serving: one predict function per model, and the step that gives each its `live` alias.

DESIGN §7: one predict function per model (its own alias, versions, memory and concurrency), and
the alias is never a CloudFormation resource. A custom resource with no update behaviour runs
our "ensure serving" step once, on create; every later move of `live` belongs to the rollout
code, so re-running `cdk deploy` never changes which model version serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Annotations, CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from aws_cdk.aws_dynamodb import ITable
from constructs import Construct

from infra.capture import CaptureStream
from infra.nag import acknowledge, acknowledge_synchronous_invocation, bucket_arn_finding
from infra.standard_function import LOG_RETENTION, StandardFunction
from mlops.resources import LIVE_ALIAS, ResourceNames

SPECS_DIR_IN_ASSET = "/var/task/models"
PREDICT_MEMORY_MB = 1024
PROVIDER_FRAMEWORK_MEMORY_MB = 128
PREDICT_TIMEOUT = Duration.seconds(10)
# What the setup step may do to a predict function: publish a version pinned to a model version
# and create or move the alias (DESIGN §7), nothing else.
SETUP_ACTIONS = [
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:GetAlias",
    "lambda:CreateAlias",
    "lambda:UpdateAlias",
]


@dataclass(frozen=True)
class ServingLayers:
    """The layers every function that imports `mlops` needs, both built by layers/build_layer.py
    from constraints.txt: onnxruntime + numpy + orjson, and Powertools + pydantic (not AWS's
    public Powertools layer, whose version numbers hold other Powertools releases)."""

    inference: lambda_.ILayerVersion
    powertools: lambda_.ILayerVersion

    def as_list(self) -> list[lambda_.ILayerVersion]:
        return [self.powertools, self.inference]


def serving_layers(
    scope: Construct, *, inference_code: lambda_.Code, powertools_code: lambda_.Code
) -> ServingLayers:
    """Create both layers from their built folders (each holds `python/`)."""

    def layer(construct_id: str, code: lambda_.Code, contents: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            scope,
            construct_id,
            code=code,
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=f"{contents} for arm64, pinned by constraints.txt",
        )

    inference = layer("InferenceLayer", inference_code, "onnxruntime + numpy + orjson")
    powertools = layer("PowertoolsLayer", powertools_code, "aws-lambda-powertools + pydantic")
    return ServingLayers(inference=inference, powertools=powertools)


class ServingSetup(Construct):
    """The provider behind every model's `live`-alias custom resource (one for all models).

    Attributes: `function` (runs our ensure-serving step), `provider`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        code: lambda_.Code,
        layers: ServingLayers,
        registry_table: ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        setup = StandardFunction(
            self,
            "Setup",
            function_name=names.serving_setup_function,
            description="Creates each predict function's first version and its live alias",
            code=code,
            handler="serving_setup.handler.handler",
            layers=layers.as_list(),
            memory_size=512,
            # Publishing waits for the configuration update to finish.
            timeout=Duration.minutes(5),
            environment={
                "REGISTRY_TABLE": registry_table.table_name,
                "MLOPS_SPECS_DIR": SPECS_DIR_IN_ASSET,
                "POWERTOOLS_SERVICE_NAME": "serving-setup",
            },
        )
        self.function = setup.function
        self.role = setup.role
        # The production pointer only (tests/iam): not grant_read_data's scans and streams.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadRegistryPointers",
                actions=["dynamodb:GetItem"],
                resources=[registry_table.table_arn],
            )
        )
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=logs.LogGroup(self, "ProviderLogs", retention=LOG_RETENTION),
        )
        framework = self.provider.node.find_child("framework-onEvent")
        # The Provider takes no memory size; its framework function relays one event at deploy
        # time and runs on Lambda's default, stated here rather than left implicit.
        framework_function = framework.node.default_child
        if not isinstance(framework_function, lambda_.CfnFunction):
            raise TypeError("aws-cdk-lib's Provider no longer holds a framework-onEvent function")
        framework_function.memory_size = PROVIDER_FRAMEWORK_MEMORY_MB
        acknowledge_synchronous_invocation(
            self.function, "by the custom-resource Provider framework, with RequestResponse"
        )
        acknowledge(
            framework,
            "Serverless-LambdaDLQ",
            "CloudFormation invokes this CDK framework function asynchronously, but the framework "
            "reports every failure of our setup step back to CloudFormation (the stack event "
            "shows it and the deploy rolls back); a dead-letter copy of a deploy-time request "
            "could not be replayed into a deploy that already failed.",
        )
        acknowledge(
            framework,
            "Serverless-LambdaTracing",
            "aws-cdk-lib's own relay, run at deploy time only; the setup function it calls (our "
            "code) has active tracing.",
        )
        acknowledge(
            framework,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "The CDK custom-resource Provider framework creates its own role with the basic "
            "execution policy; it only relays the event to our setup function.",
        )
        acknowledge(
            framework,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(self.function)}.Arn>:*]",
            "The Provider framework may invoke any version of our setup function; CDK writes "
            "this grant.",
        )

    def grant_setup(self, function: lambda_.IFunction) -> None:
        """Let the setup step publish versions of `function` and create or move its alias."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=SETUP_ACTIONS,
                resources=[function.function_arn, f"{function.function_arn}:*"],
            )
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{_logical_id(function)}.Arn>:*]",
            "Versions and aliases of this one predict function (qualified ARNs); version "
            "numbers are allocated when the step publishes.",
        )


class PredictEndpoint(Construct):
    """One model's predict function, its capture subscription and its `live` alias.

    `reserved_concurrency` (the spec's `[serving]`) reserves and caps the function's concurrent
    executions; None leaves it in the account's shared pool.

    Attributes: `model`, `function`, `log_group`, `alias_arn` (what the API invokes) and
    `live_alias` (the custom resource: depend on it before granting or invoking the alias).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: str,
        names: ResourceNames,
        code: lambda_.Code,
        layers: ServingLayers,
        model_bucket: s3.IBucket,
        registry_table: ITable,
        capture: CaptureStream,
        setup: ServingSetup,
        code_version: str,
        reserved_concurrency: int | None = None,
        snap_start: bool = False,
    ) -> None:
        """`snap_start`: SnapStart on the versions the rollout code publishes (the model loads
        in the init phase, so each version's snapshot holds its loaded session; what a restore
        re-creates: mlops.serving.snapstart)."""
        super().__init__(scope, construct_id)
        self.model = model
        predict = StandardFunction(
            self,
            "Predict",
            function_name=names.predict_function(model),
            description=f"Serves predictions of the {model} model (ONNX)",
            code=code,
            handler="predict.handler.handler",
            layers=layers.as_list(),
            memory_size=PREDICT_MEMORY_MB,
            timeout=PREDICT_TIMEOUT,
            # The spec's [serving] reserved_concurrency: caps every version (the canary too).
            reserved_concurrent_executions=reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            environment={
                "MODEL_NAME": model,
                # $LATEST never serves a model; each published version pins its own.
                "MODEL_VERSION": "0",
                "MODEL_BUCKET": model_bucket.bucket_name,
                "REGISTRY_TABLE": registry_table.table_name,
                "MAX_BATCH_ROWS": "1000",
                "MAX_BODY_BYTES": "1000000",
                "CODE_VERSION": code_version,
                "POWERTOOLS_SERVICE_NAME": "predict",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
                "MLOPS_SPECS_DIR": SPECS_DIR_IN_ASSET,
            },
        )
        self.function = predict.function
        self.log_group = predict.log_group
        acknowledge_synchronous_invocation(self.function, "by API Gateway's Lambda proxy")
        if snap_start:
            # CDK warns that SnapStart needs published versions: the rollout code publishes
            # them (DESIGN §7: our code owns versions and the alias), never CloudFormation.
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "versions are published by the rollout reconciler, not in the template",
            )
            acknowledge(
                self.function,
                "CloudFormation-Validate::W2530",
                "SnapStart without an AWS::Lambda::Version in the template: the rollout "
                "reconciler publishes every version (DESIGN §7), so none belongs here.",
            )
        self.alias_arn = f"{self.function.function_arn}:{LIVE_ALIAS}"

        predict.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadModelArtifacts",
                # The registry pins each artifact's S3 version id and the function reads with
                # VersionId, which needs GetObjectVersion (GetObject alone gives 403).
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[model_bucket.arn_for_objects(f"models/{model}/*")],
            )
        )
        predict.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadRegistry",
                # One GetItem for the pinned version (mlops.registry.served); tests/iam proves it.
                actions=["dynamodb:GetItem"],
                resources=[registry_table.table_arn],
            )
        )
        acknowledge(
            predict.role,
            bucket_arn_finding(model_bucket, f"/models/{model}/*"),
            "Reads this model's immutable artifacts (models/<model>/v<N>/) only; N is chosen "
            "by the registry at run time.",
        )

        capture.subscribe(self.log_group, f"Capture{model_id(model)}")
        setup.grant_setup(self.function)
        self.live_alias = CustomResource(
            self,
            "LiveAlias",
            service_token=setup.provider.service_token,
            resource_type="Custom::LiveAlias",
            # Only names: nothing here changes on a redeploy, so the resource is never updated
            # and `live` stays where the rollout code put it.
            properties={"FunctionName": self.function.function_name, "ModelName": model},
        )
        self.live_alias.node.add_dependency(setup.role)


def _logical_id(function: lambda_.IFunction) -> str:
    return Stack.of(function).get_logical_id(function.node.default_child)  # type: ignore[arg-type]


def model_id(model: str) -> str:
    """An alphanumeric id for a model (`PredictFunction<Model>`): logical ids allow no `-`."""
    return "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", model))
