"""Train function: SQS (carrying S3 ObjectCreated notifications) -> one training run per object.

Thin by design: parse the batch, hand each object to `process_training_object`, report
partial batch failures so only the failed messages are retried (and reach the DLQ after
maxReceiveCount). Bad data is not a failure here: the run is recorded as failed and the
message is consumed, because retrying a bad file cannot fix it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

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

from mlops.clients import client
from mlops.notifications import Alerts, RegistryEvents
from mlops.registry import ArtifactStore, RegistryStore, SourceObject
from mlops.settings import TrainSettings
from mlops.training.run import RunOutcome, TrainingDependencies, process_training_object

logger = Logger(service="train")
# The domain code logs through the standard library; give it the same JSON format and
# correlation ids.
copy_config_to_registered_loggers(source_logger=logger, include={"mlops"})
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def dependencies() -> TrainingDependencies:
    """Adapters built once per execution environment (cleared by tests between backends)."""
    settings = TrainSettings.from_environment()
    return TrainingDependencies(
        s3=client("s3"),
        registry=RegistryStore(client("dynamodb"), settings.registry_table),
        artifacts=ArtifactStore(client("s3"), settings.model_bucket),
        alerts=Alerts(client("sns"), settings.alerts_topic_arn),
        events=RegistryEvents(client("events"), settings.event_bus_name),
        max_file_mb=settings.max_training_file_mb,
        lease_seconds=settings.run_lease_seconds,
        code_version=settings.code_version,
    )


def objects_in_message(body: str) -> list[SourceObject]:
    """The created objects an S3 notification names. S3's `s3:TestEvent` (sent when the
    notification is configured) names none; keys arrive URL-encoded (`+` for spaces)."""
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return []
    objects = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        objects.append(
            SourceObject(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(s3["object"]["key"]),
                version_id=s3["object"].get("versionId"),
                etag=s3["object"].get("eTag", ""),
                size=s3["object"].get("size"),
            )
        )
    return objects


def record_handler(record: SQSRecord) -> list[RunOutcome]:
    outcomes = []
    for source in objects_in_message(record.body):
        outcome = process_training_object(source, dependencies())
        logger.info("training outcome", extra={"outcome": outcome.__dict__, "key": source.key})
        outcomes.append(outcome)
    return outcomes


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
