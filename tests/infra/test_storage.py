"""Buckets and registry: private, encrypted, versioned, SSL-only, logged, retained."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Aws
from aws_cdk.assertions import Match

from mlops.resources import ResourceNames
from tests.infra.conftest import Synthesized


def _names() -> ResourceNames:
    return ResourceNames(prefix="mlops-dev", account=Aws.ACCOUNT_ID, region=Aws.REGION)


def test_every_bucket_is_encrypted_versioned_and_blocks_public_access(synthesized: Synthesized):
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # data, models, capture, access logs
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized):
    buckets = set(synthesized.resources("AWS::S3::Bucket"))
    ssl_only = set()
    for policy in synthesized.resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                ssl_only.add(policy["Properties"]["Bucket"]["Ref"])
    assert ssl_only == buckets


def test_data_model_and_capture_buckets_log_access_to_the_log_bucket(synthesized: Synthesized):
    storage = synthesized.stack.node.find_child("Storage")
    log_bucket = synthesized.logical_id(storage.access_log_bucket)  # type: ignore[attr-defined]
    logged = [
        bucket
        for bucket in synthesized.resources("AWS::S3::Bucket").values()
        if "LoggingConfiguration" in bucket["Properties"]
    ]
    assert len(logged) == 3
    for bucket in logged:
        assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {
            "Ref": log_bucket
        }


def test_bucket_names_come_from_resource_names(synthesized: Synthesized):
    names = _names()
    declared = {
        str(bucket["Properties"].get("BucketName"))
        for bucket in synthesized.resources("AWS::S3::Bucket").values()
    }
    for expected in (names.data_bucket, names.model_bucket, names.capture_bucket):
        assert str(synthesized.resolve(expected)) in declared


def test_buckets_and_registry_outlive_the_stack(synthesized: Synthesized):
    for resource_type in ("AWS::S3::Bucket", "AWS::DynamoDB::Table"):
        for logical_id, resource in synthesized.resources(resource_type).items():
            assert resource["DeletionPolicy"] == "Retain", logical_id


def test_registry_table_keys_billing_recovery_encryption_and_protection(
    synthesized: Synthesized,
):
    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": _names().registry_table,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ]
            ),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
        },
    )


def _rules(synthesized: Synthesized, bucket_name_part: str) -> dict[str, dict]:
    for bucket in synthesized.resources("AWS::S3::Bucket").values():
        name = bucket["Properties"].get("BucketName", "")
        if isinstance(name, dict):
            name = json.dumps(name)
        if bucket_name_part in name:
            rules = bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            return {rule["Id"]: rule for rule in rules}
    raise AssertionError(f"no bucket named like {bucket_name_part}")


@pytest.mark.parametrize(("stage", "days"), [("dev", 30), ("prod", 400)])
def test_capture_reports_and_compacted_parquet_expire_with_the_stage(
    stage: str, days: int, synthesized: Synthesized, synthesized_prod: Synthesized
):
    """Without lifecycle rules the capture bucket grows with every request forever; the
    prefixes are the ones the capture stream and the drift check write."""
    from mlops.drift.run import REPORTS_PREFIX
    from mlops.drift.window import CAPTURE_PREFIX, COMPACTED_PREFIX

    rules = _rules(synthesized if stage == "dev" else synthesized_prod, "-capture-")
    expiring = {
        rule["Prefix"]: rule["ExpirationInDays"] for rule in rules.values() if "Prefix" in rule
    }
    for prefix in (CAPTURE_PREFIX, COMPACTED_PREFIX, REPORTS_PREFIX):
        assert expiring[prefix] == days
    assert expiring["capture-errors/"] == min(30, days)
    assert rules["ExpireOldVersions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7


def test_training_files_and_artifacts_never_expire(synthesized: Synthesized):
    """The registry pins both by S3 version id (lineage, serving): only unfinished multipart
    uploads are cleaned up there."""
    for part in ("-data-", "-models-"):
        rules = _rules(synthesized, part)
        assert list(rules) == ["AbortIncompleteUploads"]
        assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": 7
        }
