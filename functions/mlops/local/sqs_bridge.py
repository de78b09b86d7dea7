"""Turns messages received from an SQS queue into the event Lambda's SQS trigger delivers.

The local stack (and the integration tests) receive from moto's queue and call the handler
with this event, because moto cannot invoke a Lambda without Docker (DESIGN §6).
"""

from __future__ import annotations

import hashlib
from typing import Any


def lambda_event_from_messages(
    messages: list[dict[str, Any]], queue_arn: str, region: str
) -> dict[str, Any]:
    """The `{"Records": [...]}` event for messages from `receive_message`."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(  # noqa: S324 - SQS's checksum
                    message["Body"].encode()
                ).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}
