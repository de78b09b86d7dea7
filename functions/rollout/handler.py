"""Rollout function: SQS (EventBridge `ModelRegistered` and the schedule) -> the reconciler.

Why SQS in front: EventBridge delivers at least once, and the schedule keeps firing; the queue
serialises both (batch size 1, concurrency 2, the minimum) and retries a failed run. The
reconciler is idempotent, so a duplicate or a retry only converges again. A registry event
names its model; a scheduled event reconciles every declared model.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.rollout.dependencies import rollout_dependencies
from mlops.rollout.reconciler import RolloutDependencies, reconcile_models
from mlops.settings import RolloutSettings

logger = Logger(service="rollout")
copy_config_to_registered_loggers(source_logger=logger, include={"mlops"})


@cache
def dependencies() -> RolloutDependencies:
    return rollout_dependencies(RolloutSettings.from_environment())


def models_in(body: str) -> list[str] | None:
    """The model an EventBridge event names, or None (every model) for a scheduled event."""
    event = json.loads(body)
    model = (event.get("detail") or {}).get("model")
    return [str(model)] if model else None


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            reports = reconcile_models(models_in(record["body"]), dependencies())
            logger.info("reconciled", extra={"steps": {r.model: r.steps for r in reports}})
        except Exception:
            logger.exception("reconcile failed; SQS will redeliver")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
