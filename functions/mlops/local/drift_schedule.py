"""The local stand-in for each model's EventBridge drift schedule and for SQS -> Lambda.

moto's EventBridge accepts scheduled rules but never fires them (DESIGN §6), so this module
sends, every `MLOPS_DRIFT_INTERVAL_SECONDS` (60 by default locally; the spec's
`schedule_minutes` on AWS), the same message the rule's SQS target sends (`{"model", "time"}`)
to the same queue, and a loop delivers that queue to the drift handler as Lambda's event source
mapping would (deleting only what the handler did not report failed). The check itself is the
drift function's code, unchanged.

Before delivering, the capture buffer is flushed: on AWS Firehose has delivered by the time a
schedule fires (60 s buffer vs an hourly check); locally `mlops drift --now` runs seconds after
the traffic, and would otherwise miss it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlops.clients import client
from mlops.local.provision import LOCAL_REGION, LocalResources
from mlops.local.sqs_bridge import lambda_event_from_messages
from mlops.resources import ResourceNames
from mlops.spec import load_all_specs

INTERVAL_ENV = "MLOPS_DRIFT_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 60.0


def drift_environment(resources: LocalResources) -> dict[str, str]:
    """The drift function's environment, as the CDK stack sets it."""
    names = resources.names
    return {
        "MODEL_BUCKET": names.model_bucket,
        "CAPTURE_BUCKET": names.capture_bucket,
        "REGISTRY_TABLE": names.registry_table,
        "ALERTS_TOPIC_ARN": resources.alerts_topic_arn,
        "CHECK_LEASE_SECONDS": "660",
        "DATA_BUCKET": names.data_bucket,
    }


def provision_drift_queue(sqs: Any, names: ResourceNames) -> str:
    """The schedule queue (and its DLQ) the CDK stack declares; returns the queue URL."""
    dlq_url = sqs.create_queue(QueueName=names.drift_dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(
        sqs.create_queue(
            QueueName=names.drift_queue,
            Attributes={
                "VisibilityTimeout": "60",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}
                ),
            },
        )["QueueUrl"]
    )


def schedule_message(model: str, when: datetime) -> str:
    """What the rule's input transformer writes (infra/drift.py)."""
    return json.dumps({"model": model, "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})


class LocalDriftSchedule:
    """Timer + delivery loop; `start()` runs both on daemon threads until `stop` is set."""

    def __init__(
        self,
        resources: LocalResources,
        stop: threading.Event,
        say: Callable[[str], None],
        flush_capture: Callable[[], int],
        interval_seconds: float | None = None,
    ) -> None:
        self.resources = resources
        self.stop = stop
        self.say = say
        self.flush_capture = flush_capture
        self.interval = interval_seconds or float(
            os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL_SECONDS
        )
        self.queue_url = provision_drift_queue(client("sqs"), resources.names)
        for key, value in drift_environment(resources).items():
            os.environ.setdefault(key, value)
        os.environ["CAPTURE_BUCKET"] = resources.names.capture_bucket
        os.environ["DATA_BUCKET"] = resources.names.data_bucket

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._timer, name="drift-schedule", daemon=True),
            threading.Thread(target=self._deliver, name="drift", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def _timer(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                now = datetime.now(UTC).replace(microsecond=0)
                for model in load_all_specs():
                    client("sqs").send_message(
                        QueueUrl=self.queue_url, MessageBody=schedule_message(model, now)
                    )
            except Exception as error:  # keep the local stack up; show what happened
                self.say(f"[drift] schedule error: {type(error).__name__}: {error}")

    def _deliver(self) -> None:
        from drift.handler import dependencies, handler, scheduled_check

        from mlops.local.context import LocalContext

        dependencies.cache_clear()
        sqs = client("sqs")
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        context = LocalContext("mlops-drift", memory_mb=2048, timeout_ms=600_000)
        while not self.stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
                if not messages:
                    continue
                self.flush_capture()
                event = lambda_event_from_messages(messages, queue_arn, LOCAL_REGION)
                result = handler(event, context.as_lambda_context())
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
                for message in messages:
                    model, _ = scheduled_check(message["Body"])
                    if message["MessageId"] in failed:
                        self.say(f"[drift] {model}: check failed; SQS will redeliver it")
                        continue
                    sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    self.say(f"[drift] {model}: checked")
            except Exception as error:
                self.say(f"[drift] error: {type(error).__name__}: {error}")
                time.sleep(1.0)
