"""`mlops local`: moto's server on loopback, the stack's resources, the handlers in-process.

What runs where:
- moto's HTTP server stands in for AWS; every client (ours, the CLI's, `aws --endpoint-url`)
  talks to it through AWS_ENDPOINT_URL;
- S3 -> SQS notifications are moto's own; a loop receives from the training queue and calls
  the train handler with the event Lambda would deliver (moto cannot invoke Lambdas without
  Docker), deleting only the messages the handler did not report as failed;
- alerts: the topic has an SQS subscription (the local outbox); a loop prints each alert and
  appends it to `.mlops/outbox.jsonl`;
- the API: HTTP on loopback -> API Gateway proxy events -> the predict handler of the version
  alias `live` routes to (one environment per version); capture lands in the capture bucket.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops.clients import client, reset_clients
from mlops.local.api_server import LocalApi, serve_api
from mlops.local.capture_store import S3CaptureSink
from mlops.local.context import LocalContext
from mlops.local.drift_schedule import LocalDriftSchedule
from mlops.local.environments import LocalEnvironments
from mlops.local.metrics_bridge import EmfToCloudWatch
from mlops.local.outbox_mail import write_eml
from mlops.local.provision import (
    LOCAL_REGION,
    LocalResources,
    ensure_predict_function,
    local_names,
    provision,
)
from mlops.local.rollout_loop import RolloutLoop, provision_rollout, rollout_environment
from mlops.local.sqs_bridge import lambda_event_from_messages
from mlops.registry import RegistryStore
from mlops.rollout import ensure_serving
from mlops.spec import load_all_specs

STATE_FILE = "local.json"
TRAIN_CONTEXT = LocalContext("mlops-train", memory_mb=3008, timeout_ms=900_000)


def state_dir() -> Path:
    return Path(os.environ.get("MLOPS_HOME", ".mlops"))


@dataclass(frozen=True)
class LocalState:
    """What clients need to reach the running local stack (written to .mlops/local.json)."""

    endpoint_url: str
    api_url: str
    api_key: str
    region: str
    prefix: str
    pid: int

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, folder: Path) -> LocalState | None:
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text()))


def use_local_endpoint(endpoint_url: str, region: str = LOCAL_REGION) -> None:
    """Point this process's AWS clients at the local moto server (fake credentials)."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    reset_clients()


class LocalStack:
    """Starts everything, runs the loops until stopped.

    A port of 0 lets the OS pick a free one; `start` reads the chosen ports back (tests run
    stacks side by side this way, with no window for another process to take the port).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        moto_port: int = 5055,
        api_port: int = 8080,
        say: Callable[[str], None] = print,
        poll_seconds: float = 1.0,
    ) -> None:
        self.host, self.moto_port, self.api_port = host, moto_port, api_port
        self.say = say
        self.poll_seconds = poll_seconds
        self.names = local_names()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: Any = None
        self._api_server: Any = None
        self.resources: LocalResources | None = None
        self.api_key = os.environ.get("MLOPS_LOCAL_API_KEY") or secrets.token_urlsafe(24)
        self.capture = S3CaptureSink(self.names.capture_bucket)
        self._functions: dict[str, str] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def start(self) -> LocalState:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        self.moto_port = self._moto.get_host_and_port()[1]  # port 0: the one the OS chose
        use_local_endpoint(self.endpoint_url)
        for key, value in self._train_environment_defaults().items():
            os.environ[key] = value
        services = ("s3", "sqs", "sns", "dynamodb", "lambda", "iam")
        self.resources = provision({name: client(name) for name in services}, self.names)
        for key, value in self.resources.train_environment().items():
            os.environ[key] = value
        # The rollout slice: EventBridge -> SQS -> rollout handler, EMF -> CloudWatch.
        rollout_queue = provision_rollout(self.names)
        for key, value in rollout_environment(self.resources).items():
            os.environ[key] = value
        self.emf = EmfToCloudWatch(client("cloudwatch"))
        self.sync_models()
        environments = LocalEnvironments(
            self.capture, metrics_file=state_dir() / "metrics.jsonl", metric_sink=self.emf.write
        )
        api = LocalApi(
            environments,
            lambda: dict(self._functions),
            self.api_key,
            on_request=lambda line: self.say(f"[api] {line}"),
        )
        self._api_server = serve_api(api, self.host, self.api_port)
        self.api_port = int(self._api_server.server_address[1])
        for target, name in (
            (self._training_loop, "training"),
            (self._alerts_loop, "alerts"),
            (self._housekeeping_loop, "housekeeping"),
            (
                RolloutLoop(rollout_queue, self.emf, self.capture, self._stop, self.say).run,
                "rollout",
            ),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._threads += LocalDriftSchedule(
            self.resources, self._stop, self.say, self.capture.flush
        ).start()
        state = LocalState(
            endpoint_url=self.endpoint_url,
            api_url=self.api_url,
            api_key=self.api_key,
            region=LOCAL_REGION,
            prefix=self.names.prefix,
            pid=os.getpid(),
        )
        state.save(state_dir())
        return state

    def _train_environment_defaults(self) -> dict[str, str]:
        return {
            "POWERTOOLS_SERVICE_NAME": "local",
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMlops",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }

    def sync_models(self) -> None:
        """Give every declared model a predict function with alias `live` (what `cdk deploy`
        does with its custom resource); new specs are picked up while running."""
        registry = RegistryStore(client("dynamodb"), self.names.registry_table)
        for model in load_all_specs():
            if model in self._functions:
                continue
            function_name = ensure_predict_function(
                client("lambda"), client("iam"), self.names, model
            )
            ensure_serving(client("lambda"), registry, function_name, model)
            self._functions[model] = function_name
            os.environ["MODEL_NAMES"] = ",".join(sorted(self._functions))  # the rollout's
            self.say(f"[serve] {model}: /models/{model} -> {function_name}:live")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.capture.flush()
        if self._api_server is not None:
            self._api_server.shutdown()
        if self._moto is not None:
            self._moto.stop()
        state_file = state_dir() / STATE_FILE
        if state_file.is_file():
            state_file.unlink()

    def wait(self) -> None:
        while not self._stop.is_set():
            time.sleep(0.5)

    # -- loops ------------------------------------------------------------------------------
    def _training_loop(self) -> None:
        from train.handler import dependencies, handler

        dependencies.cache_clear()
        assert self.resources is not None
        sqs = client("sqs")
        queue_url = self.resources.training_queue_url
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
                if not messages:
                    continue
                event = lambda_event_from_messages(messages, queue_arn, LOCAL_REGION)
                self._announce_training(messages)
                result = handler(event, TRAIN_CONTEXT.as_lambda_context())
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
                for message in messages:
                    if message["MessageId"] in failed:
                        self.say("[train] message failed; SQS will redeliver it (DLQ after 3)")
                        continue
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                self._announce_outcomes(messages)
            except Exception as error:  # keep the local stack up; show what happened
                self.say(f"[train] error: {type(error).__name__}: {error}")
                time.sleep(self.poll_seconds)

    def _announce_training(self, messages: list[dict[str, Any]]) -> None:
        from train.handler import objects_in_message

        for message in messages:
            for source in objects_in_message(message["Body"]):
                self.say(f"[train] s3://{source.bucket}/{source.key} -> training...")

    def _announce_outcomes(self, messages: list[dict[str, Any]]) -> None:
        from train.handler import objects_in_message

        registry = RegistryStore(client("dynamodb"), self.names.registry_table)
        for message in messages:
            for source in objects_in_message(message["Body"]):
                runs = [
                    run
                    for run in registry.list_runs(source.key.split("/")[1])
                    if run.source.key == source.key
                ]
                for run in runs[:1]:
                    detail = (
                        f"v{run.version}"
                        if run.version
                        else "; ".join(problem.message for problem in run.problems)
                    )
                    self.say(f"[train] {run.model}: {run.status} {detail}")

    def _alerts_loop(self) -> None:
        assert self.resources is not None
        sqs = client("sqs")
        outbox = state_dir() / "outbox.jsonl"
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.resources.outbox_queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                ).get("Messages", [])
                for message in messages:
                    envelope = json.loads(message["Body"])
                    self.say(f"[alert] {envelope.get('Subject')}\n{envelope.get('Message')}")
                    write_eml(state_dir() / "outbox", envelope)
                    with outbox.open("a") as handle:
                        handle.write(
                            json.dumps(
                                {
                                    "subject": envelope.get("Subject"),
                                    "message": envelope.get("Message"),
                                    "timestamp": envelope.get("Timestamp"),
                                }
                            )
                            + "\n"
                        )
                    sqs.delete_message(
                        QueueUrl=self.resources.outbox_queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                    )
            except Exception as error:
                self.say(f"[alert] error: {type(error).__name__}: {error}")
                time.sleep(self.poll_seconds)

    def _housekeeping_loop(self) -> None:
        """Flush capture (Firehose buffers ~60 s on AWS; 5 s here) and pick up new specs."""
        while not self._stop.wait(5.0):
            try:
                flushed = self.capture.flush()
                if flushed:
                    self.say(
                        f"[capture] {flushed} record(s) -> s3://{self.capture.bucket}/capture/"
                    )
                self.sync_models()
            except Exception as error:
                self.say(f"[housekeeping] error: {type(error).__name__}: {error}")
