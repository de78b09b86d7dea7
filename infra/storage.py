"""Where the data lives: the data, model and capture buckets and the registry table.

Everything here outlives the stack (RETAIN): training files, immutable model artifacts
(`models/<model>/v<N>/...`), captured traffic and the registry are the project's memory, and a
`cdk destroy` must not erase them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops.resources import ResourceNames

#: Every bucket's defaults: private, SSE-S3, SSL only, versioned, owner-enforced, retained.
SECURE_BUCKET: dict[str, Any] = {
    "encryption": s3.BucketEncryption.S3_MANAGED,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "versioned": True,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    "removal_policy": RemovalPolicy.RETAIN,
}


class Storage(Construct):
    """Three private, versioned, SSL-only buckets with access logs, and the registry table.

    Attributes: `data_bucket`, `model_bucket`, `capture_bucket`, `access_log_bucket`,
    `registry_table`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        capture_retention_days: int = 400,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(capture_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            **SECURE_BUCKET,
        )
        # Training files and artifacts are pinned by S3 version id in the registry's lineage:
        # no rule may expire a version of either (only unfinished uploads are cleaned up).
        self.data_bucket = self._bucket("DataBucket", names.data_bucket, "data/", [ABORT_UPLOADS])
        # Artifacts under models/<model>/v<N>/ are immutable; versioning keeps any overwrite
        # recoverable and the registry records each artifact's sha256.
        self.model_bucket = self._bucket(
            "ModelBucket", names.model_bucket, "models/", [ABORT_UPLOADS]
        )
        self.capture_bucket = self._bucket(
            "CaptureBucket",
            names.capture_bucket,
            "capture/",
            capture_lifecycle(capture_retention_days),
        )

        self.registry_table = dynamodb.Table(
            self,
            "RegistryTable",
            table_name=names.registry_table,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _bucket(
        self,
        construct_id: str,
        bucket_name: str,
        log_prefix: str,
        lifecycle_rules: list[s3.LifecycleRule],
    ) -> s3.Bucket:
        """A private bucket with the project's defaults; its access logs go to one log bucket."""
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=bucket_name,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"access-logs/{log_prefix}",
            lifecycle_rules=lifecycle_rules,
            **SECURE_BUCKET,
        )


#: A multipart upload that never completed (a CLI killed mid-upload) is billed until removed.
ABORT_UPLOADS = s3.LifecycleRule(
    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)
)
#: Where the capture bucket's data lives (mlops.drift, infra/capture.py): each kept for the
#: stage's retention, delivery errors for a month, and no overwritten version beyond a week.
CAPTURE_PREFIXES = ("capture/", "compacted/", "reports/")
DELIVERY_ERRORS_PREFIX = "capture-errors/"


def capture_lifecycle(retention_days: int) -> list[s3.LifecycleRule]:
    """Captured traffic, its compacted Parquet and the drift reports expire after
    `retention_days`; Firehose's delivery errors after 30 days (or sooner); a replaced or
    deleted object's old version after 7 days. Without these the bucket grows forever."""
    rules = [
        s3.LifecycleRule(
            id=f"Expire{prefix.strip('/').title()}",
            prefix=prefix,
            expiration=Duration.days(retention_days),
        )
        for prefix in CAPTURE_PREFIXES
    ]
    rules.append(
        s3.LifecycleRule(
            id="ExpireDeliveryErrors",
            prefix=DELIVERY_ERRORS_PREFIX,
            expiration=Duration.days(min(30, retention_days)),
        )
    )
    rules.append(
        s3.LifecycleRule(
            id="ExpireOldVersions",
            noncurrent_version_expiration=Duration.days(7),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
    )
    return rules
