"""Predict function: API Gateway (REST, proxy) -> PredictionService.

The model is loaded once per execution environment: at import when running in Lambda (the
init phase), else on first use. Loading never raises: a failed load answers 503.

Tracing: the function runs with X-Ray active tracing, which records each invocation (and the
init phase) without an SDK. The X-Ray SDK, through Powertools' Tracer, would add one
"## handler" subsegment per request, at ~130 ms of imports per cold start and 15-30 us per
request (benchmarks/README.md); it cannot trace the model load, which runs in the init phase
where Lambda gives the SDK no segment. Set `MLOPS_TRACE_REQUESTS=true` to add it anyway.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.clients import client, reset_clients
from mlops.registry.artifacts import ArtifactStore
from mlops.registry.served import ServedVersionReader
from mlops.serving import PredictionService, load_runtime
from mlops.serving.snapstart import register_restore_hooks
from mlops.settings import PredictSettings

logger = Logger(service="predict")
# The domain code logs through the standard library; give it the same JSON format and
# correlation ids.
copy_config_to_registered_loggers(source_logger=logger, include={"mlops"})
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMlops"), service="predict"
)
_service: PredictionService | None = None


def build_service() -> PredictionService:
    """Resolve the pinned version, verify and load its artifact, build the API."""
    settings = PredictSettings.from_environment()
    runtime = load_runtime(
        settings,
        ServedVersionReader(client("dynamodb"), settings.registry_table),
        ArtifactStore(client("s3"), settings.model_bucket),
    )
    return PredictionService(runtime, metrics=metrics)


def service() -> PredictionService:
    global _service
    if _service is None:
        _service = build_service()
    return _service


def forget_failed_load() -> bool:
    """After a SnapStart restore: a load that failed when the snapshot was taken is tried
    again by the first request, with new clients (mlops.serving.snapstart)."""
    global _service
    if _service is None or _service.runtime.load_problem is None:
        return False
    _service = None
    reset_clients()
    return True


def reset() -> None:
    """Forget the loaded service and any unflushed metrics (tests switch models and
    environments; Powertools' Metrics objects share one process-wide metric set)."""
    global _service
    _service = None
    metrics.clear_metrics()


# No clear_state: nothing appends per-request keys, and the context keys and the correlation id
# are overwritten on every invocation (clearing them first cost ~3.5 us per request here).
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The API Gateway request id is the correlation id (a dict lookup, not a JMESPath query).
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    try:
        return service().handle(event, context)
    finally:
        # Served predictions emit their own EMF line (mlops.serving.emf); what other routes
        # and errors counted goes out here, as Powertools' log_metrics would.
        if metrics.metric_set:
            metrics.flush_metrics()


if os.environ.get("MLOPS_TRACE_REQUESTS", "").lower() == "true":
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="predict")
    handler = tracer.capture_lambda_handler(capture_response=False)(handler)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("MODEL_NAME"):
    register_restore_hooks(forget_failed_load)  # a no-op unless the runtime has SnapStart
    service()  # load during the init phase (the snapshot, with SnapStart), not the first request
