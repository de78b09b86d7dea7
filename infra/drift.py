"""Drift monitoring: a schedule per model -> SQS -> the drift function (the train image).

Why the train image: a check needs scipy, pyarrow and matplotlib, which the training image
already carries (a zip with them is over Lambda's 250 MB); the same image asset with another
CMD costs no second build or upload. Why SQS between the schedule and the function: retries
with a DLQ, and the same delivery path that moto can run (its EventBridge fires no schedules
and delivers nothing to Lambda; the local stack sends the same message on its own timer).

Least privilege: the capture prefix read, the compacted and report prefixes read/write, the
models prefix read, the registry's own operations, the alerts topic (and its key).
"""

from __future__ import annotations

from aws_cdk import Duration
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
from infra.serving import model_id
from infra.standard_function import StandardFunction
from infra.training import MODELS_PREFIX
from mlops.drift.run import REPORTS_PREFIX
from mlops.drift.window import CAPTURE_PREFIX, COMPACTED_PREFIX
from mlops.resources import TRAINING_PREFIX, ResourceNames
from mlops.spec import ModelSpec

DRIFT_TIMEOUT = Duration.minutes(10)
DRIFT_MEMORY_MB = 2048
# Checks are rare and independent per model; two at a time keep a burst of schedules (every
# model on the hour) from taking the account's concurrency.
DRIFT_CONCURRENCY = 2
DRIFT_HANDLER = "drift.handler.handler"
DRIFT_MAX_RECEIVES = 3
LABELLED_PREFIX = "labelled/"


class DriftMonitor(Construct):
    """Schedule queue + DLQ, one EventBridge rule per model, the drift function.

    Attributes: `queue`, `dead_letter_queue`, `function`, `log_group`, `rules` (model -> rule).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        specs: dict[str, ModelSpec],
        data_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        model_bucket: s3.IBucket,
        registry_table: ITable,
        alerts_topic: ITopic,
        alerts_key: IKey,
        code: lambda_.DockerImageCode,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = work_queues(
            self,
            queue_name=names.drift_queue,
            dlq_name=names.drift_dlq,
            consumer_timeout=DRIFT_TIMEOUT,
            max_receive_count=DRIFT_MAX_RECEIVES,
        )
        self.rules: dict[str, events.Rule] = {}
        for name in sorted(specs):
            minutes = specs[name].drift.schedule_minutes
            rule = events.Rule(
                self,
                f"Schedule{model_id(name)}",
                description=f"Drift check of {name} every {minutes} min",
                schedule=events.Schedule.rate(Duration.minutes(minutes)),
            )
            # The schedule time is the check's idempotency key (mlops.drift.run).
            rule.add_target(
                targets.SqsQueue(
                    self.queue,
                    message=events.RuleTargetInput.from_object(
                        {"model": name, "time": events.EventField.time}
                    ),
                    # A delivery EventBridge gives up on lands beside the failed checks.
                    dead_letter_queue=self.dead_letter_queue,
                )
            )
            self.rules[name] = rule
        drift = StandardFunction(
            self,
            "Drift",
            function_name=names.drift_function,
            description="Compares captured traffic with the serving version's reference; "
            "writes a report; alerts on a state change",
            code=code,
            memory_size=DRIFT_MEMORY_MB,
            timeout=DRIFT_TIMEOUT,
            environment={
                "MODEL_BUCKET": model_bucket.bucket_name,
                "CAPTURE_BUCKET": capture_bucket.bucket_name,
                "DATA_BUCKET": data_bucket.bucket_name,
                "REGISTRY_TABLE": registry_table.table_name,
                "ALERTS_TOPIC_ARN": alerts_topic.topic_arn,
                # Above the timeout: a live check is never taken over.
                "CHECK_LEASE_SECONDS": str(int(DRIFT_TIMEOUT.to_seconds()) + 60),
                "POWERTOOLS_SERVICE_NAME": "drift",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
                # Lambda's only writable path; matplotlib caches its font list there (the
                # image's file system is read-only).
                "MPLCONFIGDIR": "/tmp/matplotlib",  # noqa: S108
            },
        )
        self.function = drift.function
        self.log_group = drift.log_group
        consume(self.function, self.queue, max_concurrency=DRIFT_CONCURRENCY)
        self._grant(drift.role, capture_bucket, model_bucket, registry_table)
        self._grant_retraining(drift.role, data_bucket)
        grant_publish_alerts(drift.role, alerts_topic, alerts_key)

    def _grant_retraining(self, role: iam.IRole, data_bucket: s3.IBucket) -> None:
        """A spec's retrain_on_drift: read labelled CSVs under labelled/, copy one under
        training/ (which starts training through the usual S3 -> SQS path)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadLabelledData",
                actions=["s3:GetObject"],
                resources=[data_bucket.arn_for_objects(f"{LABELLED_PREFIX}*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListLabelledData",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{LABELLED_PREFIX}*"]}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartRetraining",
                actions=["s3:PutObject"],
                resources=[data_bucket.arn_for_objects(f"{TRAINING_PREFIX}*")],
            )
        )
        acknowledge(
            role,
            bucket_arn_finding(data_bucket, f"/{LABELLED_PREFIX}*"),
            "Labelled CSVs have user-chosen names under labelled/<model>/ (retrain_on_drift).",
        )
        acknowledge(
            role,
            bucket_arn_finding(data_bucket, f"/{TRAINING_PREFIX}*"),
            "retrain_on_drift copies a labelled CSV to training/<model>/retrain-<check>.csv.",
        )

    def _grant(
        self,
        role: iam.IRole,
        capture_bucket: s3.IBucket,
        model_bucket: s3.IBucket,
        registry_table: ITable,
    ) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadCapture",
                actions=["s3:GetObject"],
                resources=[capture_bucket.arn_for_objects(f"{CAPTURE_PREFIX}*")],
            )
        )
        # Compacted windows and reports: written by the check, read back by the next one (and
        # through the pre-signed link, which carries this role's permission).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWriteCompactedAndReports",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[
                    capture_bucket.arn_for_objects(f"{COMPACTED_PREFIX}*"),
                    capture_bucket.arn_for_objects(f"{REPORTS_PREFIX}*"),
                ],
            )
        )
        # ListBucket: the window's capture objects, and a missing compacted part answering 404
        # (NoSuchKey) rather than 403.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListCaptureAndCompacted",
                actions=["s3:ListBucket"],
                resources=[capture_bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": [f"{CAPTURE_PREFIX}*", f"{COMPACTED_PREFIX}*"]}
                },
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadModelArtifacts",
                # Artifacts are read by the S3 version id the registry recorded (versioned
                # bucket): GetObjectVersion only; tests/iam shows GetObject is never needed.
                actions=["s3:GetObjectVersion"],
                resources=[model_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWriteDriftState",
                # Claims, state and version reads; transactions are authorized per item.
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                resources=[registry_table.table_arn],
            )
        )
        for suffix, reason in (
            (f"/{CAPTURE_PREFIX}*", "Capture objects are named by Firehose per model and hour."),
            (
                f"/{COMPACTED_PREFIX}*",
                "Compacted windows mirror the capture object names, per model and version.",
            ),
            (f"/{REPORTS_PREFIX}*", "Reports are written under reports/<model>/<check time>/."),
        ):
            acknowledge(role, bucket_arn_finding(capture_bucket, suffix), reason)
        acknowledge(
            role,
            bucket_arn_finding(model_bucket, f"/{MODELS_PREFIX}*"),
            "Reads a version's reference under models/<model>/v<N>/ (N known only at run time).",
        )
