"""Capture: predict log lines marked `"capture": true` land in S3, partitioned by model and hour.

The predict handler prints one JSON line per request; a CloudWatch Logs subscription filter sends
only those lines to one shared Firehose stream. No network round trip on the hot path, and no
Firehose client in the handler (DESIGN §2, §7).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge, bucket_arn_finding
from infra.standard_function import LOG_RETENTION
from mlops.resources import ResourceNames

CAPTURE_FILTER_PATTERN = "{ $.capture IS TRUE }"
CAPTURE_PREFIX = (
    "capture/model=!{partitionKeyFromQuery:model}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
)
CAPTURE_ERROR_PREFIX = "capture-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
# Dynamic partitioning needs a buffer of at least 64 MB; 60 s keeps the drift window fresh.
BUFFER_SECONDS = 60
BUFFER_MB = 64


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(
        type=kind,
        parameters=[
            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                parameter_name=name, parameter_value=value
            )
            for name, value in parameters.items()
        ],
    )


class CaptureStream(Construct):
    """The shared Firehose stream to the capture bucket, and `subscribe(log_group)` for each
    predict function.

    Attributes: `delivery_stream` (L1: the L2 lacks the CloudWatch Logs processors and dynamic
    partitioning), `logs_role` (what CloudWatch Logs assumes to put records).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        capture_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        delivery_logs = logs.LogGroup(self, "DeliveryLogs", retention=LOG_RETENTION)
        delivery_log_stream = delivery_logs.add_stream("S3Delivery")

        firehose_role = iam.Role(
            self,
            "FirehoseRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": stack.account}},
            ),
            description="Lets Firehose write captured requests to the capture bucket",
        )
        written = [
            capture_bucket.arn_for_objects("capture/*"),
            capture_bucket.arn_for_objects("capture-errors/*"),
        ]
        firehose_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=written
            )
        )
        firehose_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[capture_bucket.bucket_arn],
            )
        )
        firehose_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"], resources=[delivery_logs.log_group_arn]
            )
        )
        for suffix in ("/capture/*", "/capture-errors/*"):
            acknowledge(
                firehose_role,
                bucket_arn_finding(capture_bucket, suffix),
                "Firehose names the objects itself (partition, timestamp, random suffix); "
                "writes are limited to the capture prefixes.",
            )

        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=names.capture_stream,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                    key_type="AWS_OWNED_CMK"
                )
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=capture_bucket.bucket_arn,
                role_arn=firehose_role.role_arn,
                prefix=CAPTURE_PREFIX,
                error_output_prefix=CAPTURE_ERROR_PREFIX,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=BUFFER_MB
                ),
                compression_format="UNCOMPRESSED",
                dynamic_partitioning_configuration=(
                    firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                        enabled=True,
                        retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(
                            duration_in_seconds=300
                        ),
                    )
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        # CloudWatch Logs delivers gzip-compressed batches of log events.
                        _processor("Decompression", CompressionFormat="GZIP"),
                        # One record per log event, holding just the message (our JSON line).
                        _processor("CloudWatchLogProcessing", DataMessageExtraction="true"),
                        _processor(
                            "MetadataExtraction",
                            MetadataExtractionQuery="{model: .model}",
                            JsonParsingEngine="JQ-1.6",
                        ),
                        # JSON lines: one capture record per line in the S3 object.
                        _processor("AppendDelimiterToRecord", Delimiter="\\n"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=delivery_logs.log_group_name,
                    log_stream_name=delivery_log_stream.log_stream_name,
                ),
            ),
        )
        # Firehose checks its role when the stream is created: the policy must exist first.
        self.delivery_stream.node.add_dependency(firehose_role)

        self.logs_role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringLike": {
                        "aws:SourceArn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                        )
                    }
                },
            ),
            description="Lets CloudWatch Logs put captured log events into the capture stream",
        )
        self.logs_role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                resources=[self.delivery_stream.attr_arn],
            )
        )

    def subscribe(self, log_group: logs.ILogGroup, construct_id: str) -> logs.CfnSubscriptionFilter:
        """Send the `"capture": true` lines of `log_group` to the capture stream."""
        subscription = logs.CfnSubscriptionFilter(
            self,
            construct_id,
            log_group_name=log_group.log_group_name,
            filter_pattern=CAPTURE_FILTER_PATTERN,
            destination_arn=self.delivery_stream.attr_arn,
            role_arn=self.logs_role.role_arn,
        )
        # CloudWatch Logs test-puts a record on creation: role policy and stream must exist.
        subscription.node.add_dependency(self.logs_role)
        subscription.node.add_dependency(self.delivery_stream)
        return subscription
