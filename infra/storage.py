"""Where the data lives: the data, model and capture buckets and the registry table.

Everything here outlives the stack (RETAIN): training files, immutable model artifacts
(`models/<model>/v<N>/...`), captured traffic and the registry are the project's memory, and a
`cdk destroy` must not erase them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
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

    def __init__(self, scope: Construct, construct_id: str, *, names: ResourceNames) -> None:
        super().__init__(scope, construct_id)
        self.access_log_bucket = s3.Bucket(self, "AccessLogBucket", **SECURE_BUCKET)
        self.data_bucket = self._bucket("DataBucket", names.data_bucket, "data/")
        # Artifacts under models/<model>/v<N>/ are immutable; versioning keeps any overwrite
        # recoverable and the registry records each artifact's sha256.
        self.model_bucket = self._bucket("ModelBucket", names.model_bucket, "models/")
        self.capture_bucket = self._bucket("CaptureBucket", names.capture_bucket, "capture/")

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

    def _bucket(self, construct_id: str, bucket_name: str, log_prefix: str) -> s3.Bucket:
        """A private bucket with the project's defaults; its access logs go to one log bucket."""
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=bucket_name,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"access-logs/{log_prefix}",
            **SECURE_BUCKET,
        )
