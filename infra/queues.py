"""A work queue and its dead-letter queue, the way every SQS-fed function here gets them.

Training, rollout and drift all put a queue in front of their function (retries, a DLQ that
alarms, and a delivery path moto can run): encrypted, TLS only, the DLQ keeping 14 days, and a
visibility timeout of 6x the consumer's timeout (AWS's guidance for SQS event sources, capped by
SQS at 12 hours) so a message is not redelivered while its first attempt may still run.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge, acknowledge_sqs_event_source

MAX_VISIBILITY = Duration.hours(12)


def visibility_for(consumer_timeout: Duration) -> Duration:
    """6x the consumer's timeout, at most SQS's 12 hours."""
    return Duration.seconds(min(6 * consumer_timeout.to_seconds(), MAX_VISIBILITY.to_seconds()))


def work_queues(
    scope: Construct,
    *,
    queue_name: str,
    dlq_name: str,
    consumer_timeout: Duration,
    max_receive_count: int,
) -> tuple[sqs.Queue, sqs.Queue]:
    """(queue, dead-letter queue), created in `scope` as "Queue" and "DeadLetterQueue" (the ids
    the constructs always used: their logical ids, and so the deployed queues, stay put)."""
    dead_letter_queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        queue_name=dlq_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        dead_letter_queue,
        "Serverless-SQSRedrivePolicy",
        f"This is the dead-letter queue at the end of {queue_name}'s redrive path: messages that "
        "failed max_receive_count times stay here 14 days for inspection and redrive; a queue "
        "behind it would only move them again.",
    )
    queue = sqs.Queue(
        scope,
        "Queue",
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_for(consumer_timeout),
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letter_queue, max_receive_count=max_receive_count
        ),
    )
    return queue, dead_letter_queue


def consume(
    function: lambda_.Function, queue: sqs.IQueue, *, max_concurrency: int
) -> event_sources.SqsEventSource:
    """Feed `function` from `queue` the way every consumer here is fed: one message per
    invocation, partial-batch failure reports, and at most `max_concurrency` invocations at a
    time (on the event source, not reserved concurrency: the poller does not slow down for
    reserved concurrency, so throttled messages would burn receives and reach the DLQ)."""
    source = event_sources.SqsEventSource(
        queue, batch_size=1, report_batch_item_failures=True, max_concurrency=max_concurrency
    )
    function.add_event_source(source)
    acknowledge_sqs_event_source(function)
    return source
