"""Rollout: the reconciler function and its triggers (one owner for every predict alias).

EventBridge (`ModelRegistered` from training, and a one-minute schedule) -> SQS (with a DLQ) ->
rollout function. Why SQS between them: the reconciler is idempotent but not free, and moto
cannot deliver EventBridge to Lambda while an SQS target works (DESIGN §6), so the local stack
drives the same path; the queue also retries a failed run and keeps its evidence in the DLQ.
An event EventBridge could not deliver to the queue (after its own retries) lands in that DLQ too.

Code: the train image with another CMD. The reconciler's decision imports scipy and its shadow
replay runs onnxruntime; scipy + numpy + onnxruntime are over half of Lambda's 250 MB for a zip
with layers, and the train image already carries exactly these pinned versions (DESIGN §7: one
set of pinned versions), so the same image is reused (one build, one asset) with
`rollout.handler.handler` as its command. Cold starts of an image do not matter on a schedule.

DESIGN §7 holds: no `AWS::Lambda::Alias` here; the function moves `live` at run time.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.aws_dynamodb import ITable
from aws_cdk.aws_kms import IKey
from aws_cdk.aws_sns import ITopic
from constructs import Construct

from infra.alerts import grant_publish_alerts
from infra.nag import acknowledge, bucket_arn_finding
from infra.queues import consume, work_queues
from infra.standard_function import StandardFunction
from mlops.resources import EVENT_SOURCE, ResourceNames

ROLLOUT_TIMEOUT = Duration.minutes(5)
ROLLOUT_SCHEDULE = Duration.minutes(1)
CAPTURE_PREFIX = "capture/"
MODELS_PREFIX = "models/"
# What the reconciler does to a predict function: publish versions pinned to a model version
# and route alias `live` (read, create, move); GetFunction is the publish waiter's read.
ROLLOUT_LAMBDA_ACTIONS = [
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:GetAlias",
    "lambda:CreateAlias",
    "lambda:UpdateAlias",
]


class Rollout(Construct):
    """Queue, DLQ, the two EventBridge rules and the rollout function.

    Attributes: `queue`, `dead_letter_queue`, `function`, `log_group`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        code: lambda_.DockerImageCode,
        predict_functions: list[lambda_.IFunction],
        models: list[str],
        model_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        registry_table: ITable,
        alerts_topic: ITopic,
        alerts_key: IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = work_queues(
            self,
            queue_name=names.rollout_queue,
            dlq_name=names.rollout_dlq,
            consumer_timeout=ROLLOUT_TIMEOUT,
            max_receive_count=3,
        )
        events.Rule(
            self,
            "ModelRegistered",
            description="A registered model version starts its rollout at once",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=["ModelRegistered"]
            ),
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue)],
        )
        events.Rule(
            self,
            "Schedule",
            description="The reconciler looks at every model's rollout once a minute",
            schedule=events.Schedule.rate(ROLLOUT_SCHEDULE),
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue)],
        )
        rollout = StandardFunction(
            self,
            "Rollout",
            function_name=names.rollout_function,
            description="Reconciles each model's alias live with the registry: canary, "
            "promote, roll back",
            code=code,
            memory_size=1024,
            timeout=ROLLOUT_TIMEOUT,
            environment={
                "REGISTRY_TABLE": registry_table.table_name,
                "MODEL_BUCKET": model_bucket.bucket_name,
                "CAPTURE_BUCKET": capture_bucket.bucket_name,
                "ALERTS_TOPIC_ARN": alerts_topic.topic_arn,
                "RESOURCE_PREFIX": names.prefix,
                "MODEL_NAMES": ",".join(sorted(models)),
                "POWERTOOLS_SERVICE_NAME": "rollout",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
            },
        )
        self.function = rollout.function
        self.log_group = rollout.log_group
        consume(self.function, self.queue, max_concurrency=2)
        self._grant(
            rollout.role,
            predict_functions,
            model_bucket,
            capture_bucket,
            registry_table,
            alerts_topic,
            alerts_key,
        )

    def _grant(
        self,
        role: iam.IRole,
        predict_functions: list[lambda_.IFunction],
        model_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        registry_table: ITable,
        alerts_topic: ITopic,
        alerts_key: IKey,
    ) -> None:
        """Least privilege, proven by tests/iam: the predict functions' versions and alias,
        the registry, the capture prefix, the artifacts (shadow replay), the topic."""
        resources = []
        for function in predict_functions:
            resources += [function.function_arn, f"{function.function_arn}:*"]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishAndRoutePredictVersions",
                actions=ROLLOUT_LAMBDA_ACTIONS,
                resources=resources,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWriteRegistry",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:Query",
                ],
                resources=[registry_table.table_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadCapture",
                actions=["s3:GetObject"],
                resources=[capture_bucket.arn_for_objects(f"{CAPTURE_PREFIX}*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListCapture",
                actions=["s3:ListBucket"],
                resources=[capture_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{CAPTURE_PREFIX}*"]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadModelArtifacts",
                # The registry pins each artifact's version id (the bucket is versioned): the
                # versioned read only (tests/iam: GetObject alone was never needed).
                actions=["s3:GetObjectVersion"],
                resources=[model_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadCanaryMetrics", actions=["cloudwatch:GetMetricData"], resources=["*"]
            )
        )
        grant_publish_alerts(role, alerts_topic, alerts_key)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:GetMetricData supports no resource-level permissions (the canary's "
            "counts); X-Ray's actions neither. No data resource is granted with '*'.",
        )
        acknowledge(
            role,
            bucket_arn_finding(capture_bucket, f"/{CAPTURE_PREFIX}*"),
            "Reads captured requests (shadow replay inputs, canary outputs) under capture/ only; "
            "object names are chosen by Firehose at run time.",
        )
        acknowledge(
            role,
            bucket_arn_finding(model_bucket, f"/{MODELS_PREFIX}*"),
            "Reads candidates' immutable artifacts (models/<model>/v<N>/) for shadow replay.",
        )
        for function in predict_functions:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{_logical_id(function)}.Arn>:*]",
                "Versions and alias of this predict function (qualified ARNs); version numbers "
                "are allocated when the reconciler publishes.",
            )


def _logical_id(function: lambda_.IFunction) -> str:
    return Stack.of(function).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
