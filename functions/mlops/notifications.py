"""Outbound signals: alerts to people (SNS) and registry events to machines (EventBridge)."""

from __future__ import annotations

import json
from typing import Any

from mlops.resources import EVENT_SOURCE


class Alerts:
    """Publishes human-readable alerts to the alerts topic (e-mail on AWS, the terminal locally)."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, subject: str, body: str, attributes: dict[str, str]) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=subject[:99],
            Message=body,
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )


class RegistryEvents:
    """Emits registry events (ModelRegistered, ModelRejected, TrainingFailed) on EventBridge.

    EventBridge delivers at least once too: consumers de-duplicate on `detail.run_id`.
    """

    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(
                f"EventBridge refused the {detail_type} event: {response['Entries']}"
            )
