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


def acknowledge_synchronous_invocation(function: IConstruct, invoker: str) -> None:
    """Serverless-LambdaDLQ on a function only ever invoked synchronously (`invoker` says by
    whom). A function's dead-letter queue receives failed *asynchronous* invocations only
    (AWS::Lambda::Function DeadLetterConfig), so it would stay empty; the caller gets the error.
    """
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        f"Invoked synchronously only ({invoker}): a Lambda dead-letter queue receives failed "
        "asynchronous invocations only, so it would never hold anything; the caller sees the "
        "error itself.",
    )


def acknowledge_sqs_event_source(function: IConstruct) -> None:
    """The two Serverless findings on a function fed by an SQS event source mapping.

    The mapping polls and invokes synchronously (no async DLQ applies), and SQS mappings take no
    on-failure destination: CloudFormation's EventSourceMapping OnFailure lists Kinesis, DynamoDB
    streams, Kafka and MSK only. The source queue's redrive policy is the failure path.
    """
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        "Fed by an SQS event source mapping, which invokes synchronously: a "
        "Lambda dead-letter queue only receives failed asynchronous invocations. A message "
        "that keeps failing moves to the queue's own dead-letter queue (redrive policy).",
    )
    acknowledge(
        function,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event source mappings support no on-failure destination (only Kinesis, DynamoDB "
        "streams, Kafka and MSK do); the source queue's redrive policy sends a message that failed "
        "max_receive_count times to its dead-letter queue, which is the failure path.",
    )
