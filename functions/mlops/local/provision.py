"""Creates the stack's resources in moto, with the names and wiring `cdk deploy` gives them.

moto's CloudFormation skips what it does not support (aliases, assets, custom resources), so
the local stack is built from the same description the CDK app uses (`ResourceNames`), not by
deploying the template (DESIGN §6). Idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from mlops.resources import TRAINING_PREFIX, ResourceNames

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
LOCAL_PREFIX = "mlops"
OUTBOX_QUEUE = "mlops-local-alerts-outbox"
DLQ_MAX_RECEIVES = 3


def local_names(prefix: str = LOCAL_PREFIX) -> ResourceNames:
    return ResourceNames(prefix=prefix, account=LOCAL_ACCOUNT, region=LOCAL_REGION)


@dataclass(frozen=True)
class LocalResources:
    """What the local stack's loops need to find again."""

    names: ResourceNames
    training_queue_url: str
    training_dlq_url: str
    alerts_topic_arn: str
    outbox_queue_url: str

    def train_environment(self) -> dict[str, str]:
        """The train function's environment, as the CDK stack sets it."""
        return {
            "MODEL_BUCKET": self.names.model_bucket,
            "REGISTRY_TABLE": self.names.registry_table,
            "ALERTS_TOPIC_ARN": self.alerts_topic_arn,
            "EVENT_BUS_NAME": "default",
            "MAX_TRAINING_FILE_MB": "150",
            "CODE_VERSION": "local",
            "RUN_LEASE_SECONDS": "1000",
        }


def _bucket(s3: Any, name: str) -> None:
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _table(dynamodb: Any, name: str) -> None:
    if name in dynamodb.list_tables().get("TableNames", []):
        return
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def provision(clients: dict[str, Any], names: ResourceNames) -> LocalResources:
    """Create (or find) every resource. `clients` maps service names to botocore clients."""
    s3, sqs, sns, dynamodb = clients["s3"], clients["sqs"], clients["sns"], clients["dynamodb"]
    for bucket in (names.data_bucket, names.model_bucket, names.capture_bucket):
        _bucket(s3, bucket)
    _table(dynamodb, names.registry_table)

    dlq_url = sqs.create_queue(QueueName=names.training_dlq)["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=names.training_queue,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
                    "maxReceiveCount": str(DLQ_MAX_RECEIVES),
                }
            ),
        },
    )["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=names.data_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": _queue_arn(sqs, queue_url),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": TRAINING_PREFIX},
                                {"Name": "suffix", "Value": ".csv"},
                            ]
                        }
                    },
                }
            ]
        },
    )

    topic_arn = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    outbox_url = sqs.create_queue(QueueName=OUTBOX_QUEUE)["QueueUrl"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=_queue_arn(sqs, outbox_url),
        Attributes={"RawMessageDelivery": "false"},
    )
    resources = LocalResources(
        names=names,
        training_queue_url=queue_url,
        training_dlq_url=dlq_url,
        alerts_topic_arn=topic_arn,
        outbox_queue_url=outbox_url,
    )
    return resources


def predict_environment(names: ResourceNames, model: str) -> dict[str, str]:
    """The predict function's environment on $LATEST, as the CDK stack sets it."""
    return {
        "MODEL_NAME": model,
        "MODEL_VERSION": "0",
        "MODEL_BUCKET": names.model_bucket,
        "REGISTRY_TABLE": names.registry_table,
        "MAX_BATCH_ROWS": "1000",
        "MAX_BODY_BYTES": "1000000",
        "CODE_VERSION": "local",
    }


def placeholder_zip() -> bytes:
    """moto needs code to create a function; locally the handler runs in-process instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("predict/handler.py", "# runs in-process in the local stack\n")
    return buffer.getvalue()


def ensure_predict_role(iam: Any, names: ResourceNames) -> str:
    """The predict functions' execution role (moto checks it exists); its ARN."""
    role_name = f"{names.prefix}-predict-role"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
    return str(role_arn)


def ensure_predict_function(lambda_client: Any, iam: Any, names: ResourceNames, model: str) -> str:
    """Create the model's predict function in moto if missing; return its name."""
    function_name = names.predict_function(model)
    try:
        lambda_client.get_function(FunctionName=function_name)
        return function_name
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    role_arn = ensure_predict_role(iam, names)
    lambda_client.create_function(
        FunctionName=function_name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="predict.handler.handler",
        Code={"ZipFile": placeholder_zip()},
        Architectures=["arm64"],
        MemorySize=1024,
        Timeout=10,
        Environment={"Variables": predict_environment(names, model)},
    )
    return function_name
