"""The local stack's rollout path, as AWS wires it: EventBridge -> SQS -> the rollout handler.

- `ModelRegistered`: an EventBridge rule on moto's default bus with the rollout queue as its
  target (moto delivers to SQS, not to Lambda: DESIGN §6), created by `provision_rollout`;
- the schedule: moto never fires scheduled rules, so this loop puts the scheduled event on the
  same queue every `interval` seconds, as the rule would;
- delivery: received messages become the Lambda SQS event and go to the same handler;
- metrics: EMF lines the environments wrote go to moto's CloudWatch (mlops.local.metrics_bridge)
  and capture is flushed to S3 each tick, so the reconciler reads what it reads on AWS.

`MODEL_NAMES` (the models with a predict function) follows the stack's `sync_models`, as a deploy
that adds a model updates the function's environment on AWS.

Bake times: `MLOPS_ROLLOUT_MINUTE_SECONDS` (seconds per spec minute) is set for the handler,
1.0 unless given: a 30-minute bake takes 30 s locally. It is the only local difference, and it
is a setting of the reconciler, not a branch in it.
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
from mlops.local.capture_store import S3CaptureSink
from mlops.local.context import LocalContext
from mlops.local.metrics_bridge import EmfToCloudWatch
from mlops.local.provision import LOCAL_REGION, LocalResources
from mlops.local.sqs_bridge import lambda_event_from_messages
from mlops.resources import EVENT_SOURCE, ResourceNames

ROLLOUT_CONTEXT = LocalContext("mlops-rollout", memory_mb=1024, timeout_ms=300_000)
DEFAULT_MINUTE_SECONDS = "1.0"
DEFAULT_INTERVAL_SECONDS = 2.0


def provision_rollout(names: ResourceNames) -> str:
    """The rollout queue and the `ModelRegistered` rule targeting it (idempotent); its URL."""
    sqs, events = client("sqs"), client("events")
    url = str(sqs.create_queue(QueueName=names.rollout_queue)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"{names.prefix}-model-registered"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": ["ModelRegistered"]}),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "rollout-queue", "Arn": arn}])
    return url


def rollout_environment(resources: LocalResources) -> dict[str, str]:
    """The rollout function's environment, as the CDK stack sets it (plus the bake scaling)."""
    names = resources.names
    return {
        "REGISTRY_TABLE": names.registry_table,
        "MODEL_BUCKET": names.model_bucket,
        "CAPTURE_BUCKET": names.capture_bucket,
        "ALERTS_TOPIC_ARN": resources.alerts_topic_arn,
        "RESOURCE_PREFIX": names.prefix,
        "MLOPS_ROLLOUT_MINUTE_SECONDS": os.environ.get(
            "MLOPS_ROLLOUT_MINUTE_SECONDS", DEFAULT_MINUTE_SECONDS
        ),
    }


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge schedule rule puts on its SQS target."""
    return {
        "version": "0",
        "id": f"local-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [],
        "detail": {},
    }


class RolloutLoop:
    """Runs the schedule, the delivery and the metric/capture flushes until stopped."""

    def __init__(
        self,
        queue_url: str,
        metrics: EmfToCloudWatch,
        capture: S3CaptureSink,
        stop: threading.Event,
        say: Callable[[str], None],
        interval: float | None = None,
    ) -> None:
        self.queue_url, self.metrics, self.capture = queue_url, metrics, capture
        self.stop, self.say = stop, say
        self.interval = interval or float(
            os.environ.get("MLOPS_LOCAL_ROLLOUT_SECONDS", DEFAULT_INTERVAL_SECONDS)
        )
        self._shown: set[tuple[str, int]] = set()

    def run(self) -> None:
        from rollout.handler import dependencies, handler

        dependencies.cache_clear()
        sqs = client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        next_tick = 0.0
        declared = os.environ.get("MODEL_NAMES")
        while not self.stop.is_set():
            try:
                if os.environ.get("MODEL_NAMES") != declared:
                    # A model was added: as a deploy changing the function's environment, a new
                    # execution environment (the handler's dependencies are built again).
                    declared = os.environ.get("MODEL_NAMES")
                    dependencies.cache_clear()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.interval
                    self.capture.flush()
                    self.metrics.flush()
                    sqs.send_message(
                        QueueUrl=self.queue_url, MessageBody=json.dumps(scheduled_event())
                    )
                messages = sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
                ).get("Messages", [])
                if not messages:
                    continue
                event = lambda_event_from_messages(messages, arn, LOCAL_REGION)
                result = handler(event, ROLLOUT_CONTEXT.as_lambda_context())
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
                for message in messages:
                    if message["MessageId"] not in failed:
                        sqs.delete_message(
                            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                        )
                self._announce(dependencies())
            except Exception as error:  # keep the local stack up; show what happened
                self.say(f"[rollout] error: {type(error).__name__}: {error}")
                time.sleep(self.interval)

    def _announce(self, deps: Any) -> None:
        """Print each recorded transition once (the alert itself goes to the outbox)."""
        for model in deps.registry.list_models():
            for transition in deps.registry.list_transitions(model):
                key = (model, transition.revision)
                if key in self._shown:
                    continue
                self._shown.add(key)
                version = f" v{transition.version}" if transition.version is not None else ""
                self.say(f"[rollout] {model}{version}: {transition.what} - {transition.reason}")
