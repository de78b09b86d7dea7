"""A work queue and its dead-letter queue, the way every SQS-fed function here gets them.

Training, rollout and drift all put a queue in front of their function (retries, a DLQ that
alarms, and a delivery path moto can run): encrypted, TLS only, the DLQ keeping 14 days, and a
visibility timeout of 6x the consumer's timeout (AWS's guidance for SQS event sources, capped by
SQS at 12 hours) so a message is not redelivered while its first attempt may still run.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

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
