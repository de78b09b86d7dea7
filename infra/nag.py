"""Acknowledging cdk-nag findings: one call, always with the reason written next to it.

cdk-nag 3 uses CDK's own `Validations.of(...).acknowledge`; each finding is acknowledged by its
granular id (`AwsSolutions-IAM5[Resource::<arn>/*]`), so a new wildcard still fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk.aws_s3 import IBucket
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding on `scope` (and its children) for a stated reason."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def bucket_arn_finding(bucket: IBucket, suffix: str) -> str:
    """The IAM5 finding id cdk-nag reports for `<bucket arn><suffix>` (e.g. `/training/*`)."""
    stack = Stack.of(bucket)
    logical_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>{suffix}]"
