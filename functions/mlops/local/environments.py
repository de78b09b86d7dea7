"""Local execution environments: one loaded PredictionService per (function, version).

Lambda keeps module state per published version; so does this (DESIGN §7): the environment
of version 3 never serves version 4's model. Each environment is built from the environment
variables that version was published with, read back from the Lambda API (moto).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Metrics

from mlops.clients import client
from mlops.local.faults import with_local_fault
from mlops.local.logs import invocation
from mlops.registry.artifacts import ArtifactStore
from mlops.registry.served import ServedVersionReader
from mlops.resources import LIVE_ALIAS
from mlops.serving import CaptureSink, PredictionService, load_runtime
from mlops.settings import PredictSettings

ALIAS_TTL_SECONDS = 1.0


class LocalEnvironments:
    """Routes a model's request through alias `live` to a per-version environment."""

    def __init__(
        self,
        capture: CaptureSink,
        metrics: Metrics | None = None,
        metrics_file: Path | None = None,
        metric_sink: Callable[[str], None] | None = None,
    ) -> None:
        """`metric_sink` also receives every EMF line (mlops.local.metrics_bridge turns them
        into CloudWatch data points, as CloudWatch Logs does on AWS)."""
        self._capture = capture
        self._metrics_file = metrics_file
        self._metric_sink = metric_sink
        self._metrics = metrics or Metrics(namespace="ServerlessMlops", service="predict")
        self._environments: dict[tuple[str, str], PredictionService] = {}
        self._lock = threading.Lock()
        self._aliases: dict[str, tuple[float, dict[str, Any]]] = {}

    def pick_version(self, function_name: str) -> str:
        """The version alias `live` sends this request to, honouring its routing weights.

        The alias is re-read at most once a second: a move shows within a second, and a
        request does not pay a round trip to moto.
        """
        cached = self._aliases.get(function_name)
        if cached is None or time.monotonic() - cached[0] > ALIAS_TTL_SECONDS:
            cached = (
                time.monotonic(),
                client("lambda").get_alias(FunctionName=function_name, Name=LIVE_ALIAS),
            )
            self._aliases[function_name] = cached
        alias = cached[1]
        weights: dict[str, float] = (
            alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
        )
        draw = random.random()
        for version, weight in weights.items():
            if draw < weight:
                return version
            draw -= weight
        return str(alias["FunctionVersion"])

    def environment(self, function_name: str, version: str) -> PredictionService:
        key = (function_name, version)
        with self._lock:
            if key not in self._environments:
                configuration = client("lambda").get_function_configuration(
                    FunctionName=function_name, Qualifier=version
                )
                variables = with_local_fault(  # test-only faults (mlops.local.faults)
                    configuration.get("Environment", {}).get("Variables", {})
                )
                # Lambda sets the executing version in each version's environment.
                variables["AWS_LAMBDA_FUNCTION_VERSION"] = str(
                    configuration.get("Version") or version
                )
                settings = PredictSettings.from_environment(variables)
                runtime = load_runtime(
                    settings,
                    ServedVersionReader(client("dynamodb"), settings.registry_table),
                    ArtifactStore(client("s3"), settings.model_bucket),
                )
                self._environments[key] = PredictionService(
                    runtime,
                    capture=self._capture,
                    metrics=self._metrics,
                    emit_metrics=self._write_metric_line,
                )
            return self._environments[key]

    def invoke(
        self, function_name: str, event: dict[str, Any], context: Any
    ) -> tuple[str, dict[str, Any]]:
        """Invoke `function_name:live` with an API Gateway event; (version, response)."""
        with invocation("predict", function_name):
            version = self.pick_version(function_name)
            service = self.environment(function_name, version)  # loads (and logs) once
            with self._lock:  # one request at a time per process, as one Lambda environment
                try:
                    response = service.handle(event, context)
                finally:
                    self._flush_metrics()
        return version, response

    def _flush_metrics(self) -> None:
        """EMF blobs go to `.mlops/metrics.jsonl` (CloudWatch Logs would parse them on AWS);
        the rollout slice reads latency percentiles from there locally (DESIGN §6)."""
        if not self._metrics.metric_set:
            return
        blob = self._metrics.serialize_metric_set()
        self._metrics.clear_metrics()
        self._write_metric_line(json.dumps(blob, separators=(",", ":")) + "\n")

    def _write_metric_line(self, line: str) -> None:
        """One EMF line: Powertools' blobs and the predict route's own (mlops.serving.emf)."""
        if self._metric_sink is not None:
            self._metric_sink(line)
        if self._metrics_file is not None:
            self._metrics_file.parent.mkdir(parents=True, exist_ok=True)
            with self._metrics_file.open("a") as handle:
                handle.write(line)
