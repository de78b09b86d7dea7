"""moto fixtures that create the stack's resources with the names the stack uses."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.clients import client
from mlops.local.context import LocalContext
from mlops.local.provision import LocalResources, local_names, provision
from mlops.local.sqs_bridge import lambda_event_from_messages


@dataclass
class TrainingStack:
    """The provisioned local resources plus helpers that drive the real path."""

    resources: LocalResources

    @property
    def data_bucket(self) -> str:
        return self.resources.names.data_bucket

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        response: dict[str, Any] = client("s3").put_object(
            Bucket=self.data_bucket, Key=key, Body=body
        )
        return response

    def receive_event(self) -> dict[str, Any]:
        """Drain the training queue (S3 notifications) into one Lambda SQS event."""
        sqs = client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.resources.training_queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        arn = sqs.get_queue_attributes(
            QueueUrl=self.resources.training_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        return lambda_event_from_messages(messages, arn, "us-east-1")

    def alerts(self) -> list[dict[str, Any]]:
        """Messages published to the alerts topic (via its SQS outbox subscription)."""
        import json

        sqs = client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.resources.outbox_queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.resources.outbox_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def training_stack(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainingStack]:
    from train import handler as train_handler

    names = local_names()
    resources = provision(
        {service: client(service) for service in ("s3", "sqs", "sns", "dynamodb")}, names
    )
    for key, value in resources.train_environment().items():
        monkeypatch.setenv(key, value)
    train_handler.dependencies.cache_clear()
    stack = TrainingStack(resources)
    stack.receive_event()  # S3's s3:TestEvent from configuring the notification
    yield stack
    train_handler.dependencies.cache_clear()


@pytest.fixture
def specs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of models/ that the functions read instead (MLOPS_SPECS_DIR)."""
    from mlops.spec.files import SPECS_DIR_ENV
    from mlops.spec.loader import _load_cached

    folder = tmp_path / "models"
    shutil.copytree(Path(__file__).resolve().parents[2] / "models", folder)
    monkeypatch.setenv(SPECS_DIR_ENV, str(folder))
    _load_cached.cache_clear()
    yield folder
    _load_cached.cache_clear()


class ServingStack:
    """A trained, promoted iris model behind the real predict handler (moto in-process)."""

    def __init__(self, training: TrainingStack) -> None:
        self.training = training
        self.names = training.resources.names

    def call(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        import copy
        import json

        from predict.handler import handler
        from tests.conftest import load_event

        event = copy.deepcopy(load_event("apigw_predict"))
        event.update({"httpMethod": method, "path": path, "resource": path, "body": body})
        if headers is not None:
            event["headers"] = headers
            event["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
        response = handler(event, lambda_context())
        return int(response["statusCode"]), json.loads(response["body"])


def lambda_context(function_name: str = "mlops-predict-iris") -> LambdaContext:
    """A context for calling handlers in-process."""
    return LocalContext(function_name, "test", qualifier="live").as_lambda_context()


def train_and_promote(training: TrainingStack, model: str, body: bytes) -> None:
    from mlops.registry import RegistryStore
    from train.handler import handler

    training.upload(f"training/{model}/serving.csv", body)
    handler(training.receive_event(), lambda_context())
    store = RegistryStore(client("dynamodb"), training.resources.names.registry_table)
    version = store.latest_version_number(model)
    assert store.set_production(model, version, expected=store.get_pointers(model).production)


def pin_predict_environment(
    monkeypatch: pytest.MonkeyPatch, training: TrainingStack, model: str, version: int
) -> None:
    from mlops.local.provision import predict_environment
    from predict import handler as predict_handler

    for key, value in predict_environment(training.resources.names, model).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODEL_VERSION", str(version))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    predict_handler.reset()


@pytest.fixture
def serving_stack(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServingStack]:
    from mlops.examples import iris_csv
    from predict import handler as predict_handler

    train_and_promote(training_stack, "iris", iris_csv())
    pin_predict_environment(monkeypatch, training_stack, "iris", 1)
    yield ServingStack(training_stack)
    predict_handler.reset()
