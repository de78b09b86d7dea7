"""Training: a CSV under `training/` in the data bucket becomes a message, then a model version.

S3 -> SQS (with a DLQ) -> train function (container image). The queue decouples uploads from
training: a burst of uploads waits instead of being throttled away, a failed run is retried, and
a file that keeps failing lands in the DLQ, which raises an alarm.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk.aws_dynamodb import ITable
from aws_cdk.aws_kms import IKey
from aws_cdk.aws_sns import ITopic
from constructs import Construct

from infra.alerts import grant_publish_alerts
from infra.bundling import REPO_ROOT
from infra.nag import acknowledge, bucket_arn_finding
from infra.queues import consume, visibility_for, work_queues
from infra.standard_function import StandardFunction
from mlops.resources import TRAINING_PREFIX, ResourceNames

TRAIN_TIMEOUT = Duration.minutes(15)
# What the queue gives one delivery before another may start (infra/queues.py: 6x the timeout).
VISIBILITY_TIMEOUT = visibility_for(TRAIN_TIMEOUT)
MAX_RECEIVE_COUNT = 3
TRAIN_MEMORY_MB = 3008
# Parsing a CSV costs ~13x its size in memory (measured: a 19.3 MB, 20-feature file grew the
# peak RSS by 256 MB), and fitting needs headroom on top: refuse files over memory / 20 up front
# (`file_too_large`) rather than let the function run out of memory mid-run.
MAX_TRAINING_FILE_MB = TRAIN_MEMORY_MB // 20
# Training is heavy and rare: a few concurrent runs, never the whole account's concurrency.
# Capped on the SQS event source (its MaximumConcurrency), not with reserved concurrency: the
# SQS poller does not slow down for reserved concurrency, so throttled batches would go back to
# the queue with a higher receive count and reach the DLQ after 3 receives (each retry 90 min
# later); and reserving 5 fails the deploy on new accounts whose concurrency quota is 10.
TRAIN_CONCURRENCY = 5
MODELS_PREFIX = "models/"
# The stack-level singleton aws-cdk-lib creates for `add_event_notification`.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

# The image needs only what the Dockerfile copies; everything else stays out of the build
# context and of the asset hash (so editing a test does not rebuild the image). The CLI and the
# local stack never run in Lambda (as in the zip assets, infra/bundling.py): left out, the image
# holds no code that unpickles (the local stack's snapshot does, of its own file).
IMAGE_CONTEXT_EXCLUDE = [
    "*",
    "!constraints.txt",
    "!pyproject.toml",
    "!README.md",
    "!functions",
    "!models",
    "functions/mlops/cli",
    "functions/mlops/local",
    "functions/**/__pycache__",
    "functions/*.egg-info",
    "**/*.pyc",
]


def train_image_code(
    repo_root: Path = REPO_ROOT, cmd: list[str] | None = None
) -> lambda_.DockerImageCode:
    """The train image, built from the repo root with functions/train/Dockerfile at deploy.

    Synthesizing only hashes the (allow-listed) context: no Docker engine needed for synth.
    `cmd` runs another handler on the same image (the rollout function: one build, one asset).
    """
    return lambda_.DockerImageCode.from_image_asset(
        str(repo_root),
        cmd=cmd,
        file="functions/train/Dockerfile",
        platform=ecr_assets.Platform.LINUX_ARM64,
        exclude=IMAGE_CONTEXT_EXCLUDE,
        ignore_mode=IgnoreMode.DOCKER,
    )


class Training(Construct):
    """Queue, DLQ, the S3 notification and the train function.

    Attributes: `queue`, `dead_letter_queue`, `function` (and `log_group`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        data_bucket: s3.IBucket,
        model_bucket: s3.IBucket,
        registry_table: ITable,
        alerts_topic: ITopic,
        alerts_key: IKey,
        code: lambda_.DockerImageCode,
        code_version: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = work_queues(
            self,
            queue_name=names.training_queue,
            dlq_name=names.training_dlq,
            consumer_timeout=TRAIN_TIMEOUT,
            max_receive_count=MAX_RECEIVE_COUNT,
        )
        data_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=TRAINING_PREFIX, suffix=".csv"),
        )
        self._acknowledge_notifications_handler()

        train = StandardFunction(
            self,
            "Train",
            function_name=names.train_function,
            description="Validates a training CSV, fits, converts to ONNX, gates and registers",
            code=code,
            memory_size=TRAIN_MEMORY_MB,
            timeout=TRAIN_TIMEOUT,
            environment={
                "MODEL_BUCKET": model_bucket.bucket_name,
                "REGISTRY_TABLE": registry_table.table_name,
                "ALERTS_TOPIC_ARN": alerts_topic.topic_arn,
                "EVENT_BUS_NAME": "default",
                "MAX_TRAINING_FILE_MB": str(MAX_TRAINING_FILE_MB),
                "CODE_VERSION": code_version,
                # A run left 'running' longer than this (a crashed invocation) may be taken
                # over: longer than the 15-minute timeout.
                "RUN_LEASE_SECONDS": "1000",
                "POWERTOOLS_SERVICE_NAME": "train",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
            },
        )
        self.function = train.function
        self.log_group = train.log_group
        consume(self.function, self.queue, max_concurrency=TRAIN_CONCURRENCY)
        self._grant(train.role, data_bucket, model_bucket, registry_table)
        grant_publish_alerts(train.role, alerts_topic, alerts_key)

    def _acknowledge_notifications_handler(self) -> None:
        """CDK configures bucket notifications through its own singleton function."""
        handler = Stack.of(self).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is None:
            raise LookupError(f"aws-cdk-lib no longer creates {NOTIFICATIONS_HANDLER_ID}")
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "aws-cdk-lib's own bucket-notifications handler (runs at deploy only) comes with the "
            "basic execution policy; its role is not configurable.",
        )

    def _grant(
        self,
        role: iam.IRole,
        data_bucket: s3.IBucket,
        model_bucket: s3.IBucket,
        registry_table: ITable,
    ) -> None:
        """Least privilege: the training prefix, the models prefix, the table, the topic."""
        training_objects = data_bucket.arn_for_objects(f"{TRAINING_PREFIX}*")
        model_objects = model_bucket.arn_for_objects(f"{MODELS_PREFIX}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTrainingFiles",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[training_objects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWriteModelArtifacts",
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                resources=[model_objects],
            )
        )
        # ListBucket makes a missing key a 404 instead of a 403; limited to our prefixes.
        for sid, bucket, prefix in (
            ("ListTrainingFiles", data_bucket, TRAINING_PREFIX),
            ("ListModelArtifacts", model_bucket, MODELS_PREFIX),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=sid,
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )
        # The registry's own operations (mlops.registry.store; transactions are authorized per
        # item as PutItem/UpdateItem), not grant_read_write_data's batch, scan, delete and
        # stream actions; tests/iam proves each is needed and enough.
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
                sid="PutRegistryEvents",
                actions=["events:PutEvents"],
                resources=[
                    Stack.of(self).format_arn(
                        service="events", resource="event-bus", resource_name="default"
                    )
                ],
            )
        )
        acknowledge(
            role,
            bucket_arn_finding(data_bucket, f"/{TRAINING_PREFIX}*"),
            "Training files have user-chosen names under training/<model>/; read access is "
            "limited to that prefix (GetObject, GetObjectVersion).",
        )
        acknowledge(
            role,
            bucket_arn_finding(model_bucket, f"/{MODELS_PREFIX}*"),
            "Artifacts are written to models/<model>/v<N>/ with N allocated at run time; access "
            "is limited to the models/ prefix.",
        )
