"""Which IAM permission an AWS API call needs: the service authorization reference, for the
operations our functions call.

An operation not listed here raises, so a handler that starts calling something new makes the
contract test ask for its mapping instead of letting it through unchecked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from tests.iam.policy import Permission


class UnmappedCallError(LookupError):
    """An AWS call whose IAM action and resource this contract does not know yet."""


@dataclass(frozen=True)
class Call:
    """One recorded API call: botocore's service and operation names and its parameters."""

    service: str
    operation: str
    params: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Where:
    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        location = f"{self.region}:{self.account}" if regional else ":"
        return f"arn:{self.partition}:{service}:{location}:{resource}"


def required_permissions(call: Call, where: Where) -> list[Permission]:
    """The permissions AWS checks for `call` (one or more: a transaction checks each item)."""
    mapper = _MAPPERS.get(call.service)
    if mapper is None:
        raise UnmappedCallError(f"no IAM mapping for service {call.service} ({call})")
    return mapper(call, where)


def _s3(call: Call, where: Where) -> list[Permission]:
    bucket = call.params["Bucket"]
    op = call.operation
    if op in ("GetObject", "HeadObject"):
        # HEAD is authorized as GET; a versioned read needs the *Version action.
        action = "s3:GetObjectVersion" if call.params.get("VersionId") else "s3:GetObject"
        return [Permission(action, f"arn:{where.partition}:s3:::{bucket}/{call.params['Key']}")]
    if op == "PutObject":
        return [
            Permission("s3:PutObject", f"arn:{where.partition}:s3:::{bucket}/{call.params['Key']}")
        ]
    if op == "CopyObject":
        # The service authorization reference: PutObject on the target, GetObject (or
        # GetObjectVersion with a version id) on the source.
        source = call.params["CopySource"]
        if isinstance(source, str):
            path, _, query = source.lstrip("/").partition("?versionId=")
            source = {"Bucket": path.split("/", 1)[0], "Key": path.split("/", 1)[1]}
            if query:
                source["VersionId"] = query
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        return [
            Permission("s3:PutObject", f"arn:{where.partition}:s3:::{bucket}/{call.params['Key']}"),
            Permission(read, f"arn:{where.partition}:s3:::{source['Bucket']}/{source['Key']}"),
        ]
    if op in ("ListObjectsV2", "ListObjects"):
        context = {"s3:prefix": str(call.params.get("Prefix", ""))}
        return [Permission("s3:ListBucket", f"arn:{where.partition}:s3:::{bucket}", context)]
    if op == "ListObjectVersions":
        context = {"s3:prefix": str(call.params.get("Prefix", ""))}
        return [
            Permission("s3:ListBucketVersions", f"arn:{where.partition}:s3:::{bucket}", context)
        ]
    raise UnmappedCallError(f"no IAM mapping for {call}")


def _dynamodb(call: Call, where: Where) -> list[Permission]:
    def table(name: str, index: str | None = None) -> str:
        suffix = f"/index/{index}" if index else ""
        return where.arn("dynamodb", f"table/{name}{suffix}")

    op = call.operation
    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query", "DescribeTable"):
        name = call.params["TableName"]
        return [Permission(f"dynamodb:{op}", table(name, call.params.get("IndexName")))]
    if op == "TransactWriteItems":
        actions = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            Permission(f"dynamodb:{actions[kind]}", table(body["TableName"]))
            for item in call.params["TransactItems"]
            for kind, body in item.items()
        ]
    if op == "TransactGetItems":
        return [
            Permission("dynamodb:GetItem", table(item["Get"]["TableName"]))
            for item in call.params["TransactItems"]
        ]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Permission(f"dynamodb:{op}", table(name)) for name in call.params["RequestItems"]]
    raise UnmappedCallError(f"no IAM mapping for {call}")


def _sns(call: Call, where: Where) -> list[Permission]:
    if call.operation == "Publish":
        return [Permission("sns:Publish", call.params["TopicArn"])]
    raise UnmappedCallError(f"no IAM mapping for {call}")


def _events(call: Call, where: Where) -> list[Permission]:
    if call.operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in call.params["Entries"]}
        return [
            Permission(
                "events:PutEvents",
                bus if bus.startswith("arn:") else where.arn("events", f"event-bus/{bus}"),
            )
            for bus in sorted(buses)
        ]
    raise UnmappedCallError(f"no IAM mapping for {call}")


def _lambda(call: Call, where: Where) -> list[Permission]:
    name = str(call.params["FunctionName"])
    arn = name if name.startswith("arn:") else where.arn("lambda", f"function:{name}")
    qualifier = call.params.get("Qualifier")
    if qualifier:
        arn = f"{arn}:{qualifier}"
    return [Permission(f"lambda:{call.operation}", arn)]


def _sqs(call: Call, where: Where) -> list[Permission]:
    path = urlparse(str(call.params["QueueUrl"])).path.strip("/").split("/")
    return [Permission(f"sqs:{call.operation}", where.arn("sqs", path[-1]))]


def _cloudwatch(call: Call, where: Where) -> list[Permission]:
    if call.operation == "PutMetricData":
        # No resource-level permissions; the namespace is the condition key.
        context = {"cloudwatch:namespace": str(call.params["Namespace"])}
        return [Permission("cloudwatch:PutMetricData", "*", context)]
    if call.operation in ("GetMetricData", "GetMetricStatistics", "ListMetrics"):
        return [Permission(f"cloudwatch:{call.operation}", "*")]
    raise UnmappedCallError(f"no IAM mapping for {call}")


_MAPPERS: dict[str, Callable[[Call, Where], list[Permission]]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sns": _sns,
    "events": _events,
    "lambda": _lambda,
    "sqs": _sqs,
    "cloudwatch": _cloudwatch,
}
