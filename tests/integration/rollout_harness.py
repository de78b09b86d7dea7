"""A moto stack for the rollout: train, serve through alias `live`, run the rollout handler.

Models are trained by the real train handler; traffic goes through the local stack's
per-version environments (the real PredictionService, capture to S3 in the Firehose layout,
EMF lines to CloudWatch as CloudWatch Logs would); the reconciler runs through the rollout
function's handler with an SQS event, with a clock the test moves (bake times are minutes).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlops.clients import client
from mlops.local.capture_store import S3CaptureSink
from mlops.local.context import LocalContext
from mlops.local.environments import LocalEnvironments
from mlops.local.metrics_bridge import EmfToCloudWatch
from mlops.local.provision import ensure_predict_function
from mlops.registry import ModelPointers, RegistryStore, Transition
from mlops.resources import LIVE_ALIAS
from tests.integration.conftest import TrainingStack, lambda_context

TEST_CANARY = """[canary]
traffic_percent = 20
bake_minutes = 10
evaluation_minutes = 5
max_extension_minutes = 10
min_requests = 100
max_error_rate = 0.01
max_p99_latency_ms = 50
shadow = { requests = 200, min_inputs = 50, max_class_flip_rate = 0.05 }
"""
ROW = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}
ROWS = [
    ROW,
    {**ROW, "petal length (cm)": 4.5, "petal width (cm)": 1.5, "sepal length (cm)": 6.4},
    {**ROW, "petal length (cm)": 5.8, "petal width (cm)": 2.2, "sepal length (cm)": 7.2},
]


def use_test_canary_policy(specs_dir: Path, model: str = "iris") -> None:
    """A short bake (10 min, looks every 5) and every input captured (shadow replay needs them)."""
    path = specs_dir / f"{model}.toml"
    text = re.sub(r"\[canary\].*?(?=\n\[)", TEST_CANARY, path.read_text(), flags=re.S)
    text = text.replace("capture_sample_rate = 0.1", "capture_sample_rate = 1.0")
    path.write_text(text)


class Clock:
    """Real time plus whatever the test has skipped (metrics keep real timestamps)."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.time() + self.skipped

    def advance(self, minutes: float) -> None:
        self.skipped += minutes * 60


class RolloutHarness:
    def __init__(self, training: TrainingStack, monkeypatch: pytest.MonkeyPatch) -> None:
        from rollout import handler as rollout_handler

        self.training = training
        self.names = training.resources.names
        self.function = ensure_predict_function(client("lambda"), client("iam"), self.names, "iris")
        for key, value in {
            "CAPTURE_BUCKET": self.names.capture_bucket,
            "RESOURCE_PREFIX": self.names.prefix,
            "MODEL_NAMES": "iris",
        }.items():
            monkeypatch.setenv(key, value)
        self.clock = Clock()
        rollout_handler.dependencies.cache_clear()
        self.deps = dataclasses.replace(rollout_handler.dependencies(), clock=self.clock)
        monkeypatch.setattr(rollout_handler, "dependencies", lambda: self.deps)
        self.registry = RegistryStore(client("dynamodb"), self.names.registry_table)
        self.capture = S3CaptureSink(self.names.capture_bucket)
        self.emf = EmfToCloudWatch(client("cloudwatch"))
        self.environments = LocalEnvironments(self.capture, metric_sink=self.emf.write)
        self._trained = 0

    # -- driving ---------------------------------------------------------------------------
    def train(self, body: bytes | None = None) -> int:
        from mlops.examples import iris_csv
        from train.handler import handler

        self._trained += 1
        payload = (body or iris_csv()) + b"\n" * self._trained  # a new object each time
        self.training.upload(f"training/iris/t{self._trained}.csv", payload)
        handler(self.training.receive_event(), lambda_context("mlops-train"))
        return self.registry.latest_version_number("iris")

    def reconcile(self, model: str | None = "iris") -> dict[str, Any]:
        from rollout.handler import handler

        detail = {"model": model} if model else {}
        body = json.dumps(
            {"detail-type": "ModelRegistered" if model else "Scheduled Event", "detail": detail}
        )
        event = {
            "Records": [{"messageId": str(uuid.uuid4()), "body": body, "eventSource": "aws:sqs"}]
        }
        result: dict[str, Any] = handler(event, lambda_context("mlops-rollout"))
        return result

    def send(
        self, function_version: str, count: int, rows: list[dict[str, Any]] | None = None
    ) -> list[int]:
        """`count` predict requests to one function version; their HTTP statuses."""
        service = self.environments.environment(self.function, function_version)
        statuses = []
        for index in range(count):
            event = {
                "path": "/models/iris/predict",
                "httpMethod": "POST",
                "headers": {"Content-Type": "application/json"},
                "requestContext": {"requestId": str(uuid.uuid4())},
                "body": json.dumps({"instances": [(rows or ROWS)[index % len(rows or ROWS)]]}),
            }
            response = service.handle(
                event, LocalContext(self.function, qualifier=function_version)
            )
            statuses.append(int(response["statusCode"]))
            self.environments._flush_metrics()
        self.capture.flush()
        self.emf.flush()
        return statuses

    # -- observing -------------------------------------------------------------------------
    def pointers(self) -> ModelPointers:
        return self.registry.get_pointers("iris")

    def status(self, version: int) -> str:
        return self.registry.get_version("iris", version).status

    def alias(self) -> tuple[str, dict[str, float]]:
        alias = client("lambda").get_alias(FunctionName=self.function, Name=LIVE_ALIAS)
        weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
        return str(alias["FunctionVersion"]), {k: float(v) for k, v in weights.items()}

    def pin_of(self, function_version: str) -> str:
        configuration = client("lambda").get_function_configuration(
            FunctionName=self.function, Qualifier=function_version
        )
        return str(configuration["Environment"]["Variables"]["MODEL_VERSION"])

    def transitions(self) -> list[Transition]:
        return self.registry.list_transitions("iris")

    def production_live(self) -> str:
        """v1 in production behind `live`, with production traffic captured."""
        return self.alias()[0]

    def reset_environments(self) -> None:
        self.environments = LocalEnvironments(self.capture, metric_sink=self.emf.write)


def release_first(harness: RolloutHarness) -> str:
    """Train v1, reconcile: it serves; return its function version."""
    assert harness.train() == 1
    harness.reconcile()
    return harness.alias()[0]
