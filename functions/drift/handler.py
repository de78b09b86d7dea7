"""Drift function: SQS (carrying each model's EventBridge schedule) -> one drift check per message.

Why SQS between the schedule and the function: a schedule target that is a queue gives retries,
a DLQ and the same path on moto (whose EventBridge never fires schedules nor delivers to Lambda,
DESIGN §6); the local stack sends the same message on its own timer. The rule's input
transformer writes `{"model": ..., "time": <the schedule time>}`; the time is the check's
idempotency key, so a redelivered message gives one check and at most one alert.
Thin by design: parse, hand to `run_drift_check`, report partial batch failures.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.clients import client, s3_presigner
from mlops.drift.run import CheckOutcome, DriftDependencies, run_drift_check
from mlops.notifications import Alerts
from mlops.registry import ArtifactStore, RegistryStore
from mlops.settings import DriftSettings

logger = Logger(service="drift")
copy_config_to_registered_loggers(source_logger=logger, include={"mlops"})
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def dependencies() -> DriftDependencies:
    """Adapters built once per execution environment (cleared by tests between backends)."""
    settings = DriftSettings.from_environment()
    return DriftDependencies(
        s3=client("s3"),
        dynamodb=client("dynamodb"),
        registry=RegistryStore(client("dynamodb"), settings.registry_table),
        artifacts=ArtifactStore(client("s3"), settings.model_bucket),
        alerts=Alerts(client("sns"), settings.alerts_topic_arn),
        registry_table=settings.registry_table,
        capture_bucket=settings.capture_bucket,
        presigner=s3_presigner(),
        lease_seconds=settings.check_lease_seconds,
        data_bucket=settings.data_bucket,
    )


def scheduled_check(body: str) -> tuple[str, datetime]:
    """(model, schedule time) from the rule's transformed input."""
    message = json.loads(body)
    return str(message["model"]), datetime.fromisoformat(str(message["time"]))


def record_handler(record: SQSRecord) -> CheckOutcome:
    model, scheduled_at = scheduled_check(record.body)
    outcome = run_drift_check(model, scheduled_at, dependencies())
    logger.info(
        "drift check",
        extra={
            "model": model,
            "status": outcome.status,
            "verdict": outcome.verdict,
            "alert": outcome.alert,
            "report": outcome.report_key,
        },
    )
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
