"""Builds the reconciler's adapters from its settings: once per environment (the rollout
function's handler, the CLI, the local stack's schedule all use this)."""

from __future__ import annotations

from mlops.clients import client
from mlops.notifications import Alerts
from mlops.outcome_metrics import OutcomeMetrics
from mlops.registry import ArtifactStore, RegistryStore, ServedVersionReader
from mlops.resources import ResourceNames
from mlops.rollout.evidence import CaptureReader, CloudWatchCanaryCounter
from mlops.rollout.reconciler import RolloutDependencies
from mlops.settings import RolloutSettings


def rollout_dependencies(settings: RolloutSettings) -> RolloutDependencies:
    names = ResourceNames(prefix=settings.resource_prefix, account="", region="")
    capture = CaptureReader(client("s3"), settings.capture_bucket)
    return RolloutDependencies(
        lambda_client=client("lambda"),
        registry=RegistryStore(client("dynamodb"), settings.registry_table),
        versions=ServedVersionReader(client("dynamodb"), settings.registry_table),
        artifacts=ArtifactStore(client("s3"), settings.model_bucket),
        capture=capture,
        counter=CloudWatchCanaryCounter(
            client("cloudwatch"), capture, namespace=settings.metrics_namespace
        ),
        alerts=Alerts(client("sns"), settings.alerts_topic_arn),
        function_name=names.predict_function,
        model_bucket=settings.model_bucket,
        registry_table=settings.registry_table,
        minute_seconds=settings.minute_seconds,
        models=settings.model_names,
        metrics=OutcomeMetrics("rollout", namespace=settings.metrics_namespace),
    )
