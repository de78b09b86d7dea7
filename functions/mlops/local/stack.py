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

import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import socket
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
from mlops.local.logs import invocation
from mlops.local.metrics_bridge import EmfToCloudWatch
from mlops.local.outbox_mail import write_eml
from mlops.local.provision import (
    LOCAL_REGION,
    LocalResources,
    ensure_predict_function,
    ensure_predict_role,
    local_names,
    placeholder_zip,
    provision,
)
from mlops.local.rollout_loop import RolloutLoop, provision_rollout, rollout_environment
from mlops.local.snapshot import SNAPSHOT_FILE, SnapshotError, WriteFlag
from mlops.local.sqs_bridge import lambda_event_from_messages
from mlops.outcome_metrics import subscribe_log_lines
from mlops.registry import RegistryStore
from mlops.rollout import ensure_serving
from mlops.spec import default_specs_dir, load_all_specs

STATE_FILE = "local.json"
TRAIN_CONTEXT = LocalContext("mlops-train", memory_mb=3008, timeout_ms=900_000)
# Files of the local stack's own making that describe the saved state; `--reset` removes them
# with it, so they never describe runs that no longer exist.
STATE_FILES = (SNAPSHOT_FILE, "outbox.jsonl", "metrics.jsonl")
# ... and folders: the alerts as .eml files (an "empty" outbox with last run's e-mails in it
# told `make demo`'s reader of 25 alerts where 13 went out).
STATE_FOLDERS = ("outbox",)
SNAPSHOT_SECONDS = 5.0
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class LocalStackError(RuntimeError):
    """The local stack cannot start as asked (a port in use, another stack in the folder,
    saved state it cannot load); the message says what to do instead."""


def state_dir() -> Path:
    return Path(os.environ.get("MLOPS_HOME", ".mlops"))


def port_in_use(host: str, port: int) -> bool:
    """True if something listens on host:port (a bind fails the way the servers' would)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def answers(url: str, timeout: float = 1.0) -> bool:
    """True if something accepts a TCP connection at the URL's host and port."""
    from urllib.parse import urlsplit

    split = urlsplit(url)
    try:
        with socket.create_connection((split.hostname or "127.0.0.1", split.port or 80), timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class LocalState:
    """What clients need to reach the running local stack (written to .mlops/local.json)."""

    endpoint_url: str
    api_url: str
    api_key: str
    region: str
    prefix: str
    pid: int
    folder: str = ""
    specs_dir: str = ""

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
        try:
            fields = json.loads(path.read_text())
            return cls(**{key: fields[key] for key in cls.__dataclass_fields__ if key in fields})
        except (ValueError, TypeError, KeyError):
            return None  # half-written or from another version: as good as absent


def use_local_endpoint(endpoint_url: str, region: str = LOCAL_REGION) -> None:
    """Point this process's AWS clients at the local moto server (fake credentials)."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ["AWS_DEFAULT_REGION"] = region
    for key, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    reset_clients()


def export_line(state: LocalState) -> str:
    """A shell line that points `aws` (and any SDK) at the local stack: moto accepts any
    credentials, but the SDKs refuse to sign a request without some."""
    return (
        f"export AWS_ENDPOINT_URL={state.endpoint_url} AWS_DEFAULT_REGION={state.region} "
        + " ".join(f"{key}={value}" for key, value in DUMMY_CREDENTIALS.items())
    )


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
        reset: bool = False,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
    ) -> None:
        self.host, self.moto_port, self.api_port = host, moto_port, api_port
        self.say = say
        self.poll_seconds = poll_seconds
        self.reset = reset
        self.snapshot_seconds = snapshot_seconds
        self.folder = state_dir().resolve()
        self._writes = WriteFlag()  # set on each request that may change the kept state
        self._stopped = False
        self._published = False  # local.json and the running entry are ours to remove
        self.names = local_names()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: Any = None
        self._api_server: Any = None
        self._unsubscribe_outcomes: Any = None
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

    def preflight(self) -> None:
        """Everything that can refuse a start, checked before anything is started: the folder
        is not another running stack's, both ports are free, the saved state loads."""
        running = LocalState.load(self.folder)
        if (
            running is not None
            and process_alive(running.pid)
            and (answers(running.api_url) or answers(running.endpoint_url))
        ):
            raise LocalStackError(
                f"a local stack (pid {running.pid}, API {running.api_url}) is already "
                f"running from {self.folder}; stop it first, or give this one another "
                "state folder (MLOPS_HOME=DIR) and other ports (--port, --moto-port)"
            )
        taken = [
            (port, what, option)
            for port, what, option in (
                (self.api_port, "the prediction API", "--port"),
                (self.moto_port, "moto's AWS endpoint", "--moto-port"),
            )
            if port and port_in_use(self.host, port)  # 0: the OS picks a free one at bind
        ]
        if self.api_port == self.moto_port != 0:
            taken.append((self.api_port, "both the API and moto", "--port or --moto-port"))
        if taken:
            raise LocalStackError(
                "; ".join(
                    f"port {port} ({what}) is in use on {self.host}: choose another with "
                    f"{option} PORT"
                    for port, what, option in taken
                )
            )

    def start(self) -> LocalState:
        from mlops.local import snapshot
        from mlops.local.moto_server import WatchedMotoServer

        self.preflight()
        if self.reset:
            for name in STATE_FILES:
                (self.folder / name).unlink(missing_ok=True)
            for name in STATE_FOLDERS:
                shutil.rmtree(self.folder / name, ignore_errors=True)
        try:
            saved = snapshot.load(self.folder)
        except SnapshotError as error:
            raise LocalStackError(str(error)) from error
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self._moto = WatchedMotoServer(self.host, self.moto_port, on_write=self._writes.mark)
        try:
            self._moto.start()
        except OSError as error:
            self._moto = None
            raise LocalStackError(
                f"port {self.moto_port} (moto's AWS endpoint) cannot be used on {self.host}: "
                f"{error.strerror or error}; choose another with --moto-port PORT"
            ) from error
        self.moto_port = self._moto.get_host_and_port()[1]  # port 0: the one the OS chose
        use_local_endpoint(self.endpoint_url)
        if saved is not None:
            snapshot.restore_backends(saved)
        for key, value in self._train_environment_defaults().items():
            os.environ[key] = value
        services = ("s3", "sqs", "sns", "dynamodb", "lambda", "iam")
        self.resources = provision({name: client(name) for name in services}, self.names)
        for key, value in self.resources.train_environment().items():
            os.environ[key] = value
        if saved is not None:
            snapshot.restore_functions(
                client("lambda"),
                saved,
                placeholder_zip(),
                ensure_predict_role(client("iam"), self.names),
            )
            self.say(f"[state] restored from {self.folder / SNAPSHOT_FILE}")
        # The rollout slice: EventBridge -> SQS -> rollout handler, EMF -> CloudWatch.
        rollout_queue = provision_rollout(self.names)
        for key, value in rollout_environment(self.resources).items():
            os.environ[key] = value
        self.emf = EmfToCloudWatch(client("cloudwatch"))
        # Training, drift and rollout outcomes are EMF lines too (mlops.outcome_metrics): the
        # bridge receives them as CloudWatch Logs would.
        self._unsubscribe_outcomes = subscribe_log_lines(self.emf.write)
        self.sync_models()
        environments = LocalEnvironments(
            self.capture, metrics_file=self.folder / "metrics.jsonl", metric_sink=self.emf.write
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
            folder=str(self.folder),
            specs_dir=str(default_specs_dir().resolve()),
        )
        state.save(self.folder)
        register_running(state)
        self._published = True
        return state

    def save_state(self, force: bool = False) -> bool:
        """Snapshot S3, DynamoDB and Lambda into the state folder if a request may have
        changed them since the last snapshot (or if forced, as on stop)."""
        from mlops.local import snapshot

        if not self._writes.take() and not force:
            return False
        try:
            snapshot.save(snapshot.capture(client("lambda")), self.folder)
        except Exception:
            self._writes.mark()  # not saved: try again on the next round
            raise
        return True

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
        """Save the state and stop everything; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._unsubscribe_outcomes is not None:
            self._unsubscribe_outcomes()
        if self._api_server is not None:
            self._api_server.shutdown()
            self._api_server.server_close()
        try:
            if self._moto is not None and self.resources is not None:
                self.capture.flush()
                self.save_state(force=True)
        finally:
            if self._moto is not None:
                self._moto.stop()
                # The server ran in this process: forget its in-memory state as a process exit
                # would, so a stack started again here comes back only from the saved state.
                from moto.core.base_backend import BackendDict

                BackendDict.reset()
            if self._published:  # only what this stack wrote: never another stack's file
                unregister_running(os.getpid())
                (self.folder / STATE_FILE).unlink(missing_ok=True)

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
                with invocation("train", TRAIN_CONTEXT.function_name):
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
        """Flush capture (Firehose buffers ~60 s on AWS; 5 s here), pick up new specs and save
        the state if it changed (a SIGKILL or a reboot loses at most this interval)."""
        while not self._stop.wait(self.snapshot_seconds):
            try:
                flushed = self.capture.flush()
                if flushed:
                    self.say(
                        f"[capture] {flushed} record(s) -> s3://{self.capture.bucket}/capture/"
                    )
                self.sync_models()
                self.save_state()
            except Exception as error:
                self.say(f"[housekeeping] error: {type(error).__name__}: {error}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_dir() -> Path:
    """Where running stacks register themselves, so the CLI finds one from any folder:
    `$MLOPS_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/mlops` or `~/.cache/mlops/running`."""
    configured = os.environ.get("MLOPS_RUNTIME_DIR")
    if configured:
        return Path(configured)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mlops"
    return Path.home() / ".cache" / "mlops" / "running"


def register_running(state: LocalState) -> None:
    try:
        folder = running_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{state.pid}.json").write_text(json.dumps({"folder": state.folder}))
    except OSError:
        pass  # a convenience only: the state folder is what the CLI reads first


def unregister_running(pid: int) -> None:
    with contextlib.suppress(OSError):
        (running_dir() / f"{pid}.json").unlink(missing_ok=True)


def running_stacks() -> list[LocalState]:
    """Stacks registered as running whose process is alive (stale entries are removed)."""
    found = []
    folder = running_dir()
    if not folder.is_dir():
        return []
    for entry in sorted(folder.glob("*.json")):
        try:
            pid = int(entry.stem)
            state = LocalState.load(Path(json.loads(entry.read_text())["folder"]))
        except (ValueError, KeyError, OSError):
            entry.unlink(missing_ok=True)
            continue
        if state is None or state.pid != pid or not process_alive(pid):
            entry.unlink(missing_ok=True)
            continue
        found.append(state)
    return found
