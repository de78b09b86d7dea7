"""What survives a restart of `mlops local` (docs/local.md): buckets with every object
version and its id, the registry, published function versions and alias `live`; `--reset`
starts empty. Each stack here is stopped and started again in one process: stop() forgets
moto's in-memory state as a process exit would, so what comes back came from the saved state.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local.stack import LocalStack
from mlops.spec.files import SPECS_DIR_ENV
from mlops.spec.loader import _load_cached

MODELS = Path(__file__).resolve().parents[2] / "models"
ROW = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}


@pytest.fixture
def start_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., LocalStack]]:
    """Starts local stacks on one state folder (fresh ports each time); stops what is left."""
    saved = dict(os.environ)
    specs = tmp_path / "models"
    specs.mkdir()
    for spec in MODELS.glob("*.toml"):
        (specs / spec.name).write_text(spec.read_text())
    monkeypatch.setenv(SPECS_DIR_ENV, str(specs))
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    monkeypatch.setenv("MLOPS_RUNTIME_DIR", str(tmp_path / "running"))
    monkeypatch.setenv("MLOPS_LOCAL_API_KEY", "test-key")
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MLOPS_STACK"):
        monkeypatch.delenv(key, raising=False)
    _load_cached.cache_clear()
    running: list[LocalStack] = []

    def start(reset: bool = False) -> LocalStack:
        for stack in running:
            stack.stop()
        running.clear()
        stack = LocalStack(
            moto_port=0,  # the OS picks free ports at bind: no probe-then-bind race
            api_port=0,
            say=lambda line: None,
            poll_seconds=0.2,
            reset=reset,
        )
        stack.start()
        running.append(stack)
        return stack

    yield start
    for stack in running:
        stack.stop()
    os.environ.clear()
    os.environ.update(saved)
    _load_cached.cache_clear()
    from mlops.clients import reset_clients

    reset_clients()


def _predict(stack: LocalStack) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{stack.api_url}/models/iris/predict",
        data=json.dumps({"instances": [ROW]}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "x-api-key": "test-key"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def _train_and_promote(tmp_path: Path) -> None:
    from mlops.examples import iris_csv

    data_file = tmp_path / "iris.csv"
    data_file.write_bytes(iris_csv())
    trained = CliRunner().invoke(app, ["train", "iris", str(data_file), "--timeout", "120"])
    assert trained.exit_code == 0, trained.output
    promoted = CliRunner().invoke(app, ["promote", "iris", "1"])
    assert promoted.exit_code == 0, promoted.output


def _registry_artifact(stack: LocalStack) -> tuple[str, str | None]:
    from mlops.clients import client
    from mlops.registry import RegistryStore

    registry = RegistryStore(client("dynamodb"), stack.names.registry_table)
    artifact = registry.get_version("iris", 1).model_artifact
    return artifact.key, artifact.version_id


@pytest.mark.slow
def test_restart_keeps_the_serving_version_and_its_answers(
    start_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    from mlops.clients import client

    stack = start_stack()
    _train_and_promote(tmp_path)
    time.sleep(1.1)  # the local API re-reads alias `live` at most once a second
    before = _predict(stack)
    assert before[0] == 200, before
    key, version_id = _registry_artifact(stack)
    pinned_bytes = (
        client("s3")
        .get_object(Bucket=stack.names.model_bucket, Key=key, VersionId=version_id)["Body"]
        .read()
    )
    s3_client = client("s3")
    older = s3_client.put_object(Bucket=stack.names.capture_bucket, Key="notes.txt", Body=b"one")
    newer = s3_client.put_object(Bucket=stack.names.capture_bucket, Key="notes.txt", Body=b"two")
    alias_before = client("lambda").get_alias(
        FunctionName=stack.names.predict_function("iris"), Name="live"
    )

    stack = start_stack()  # stops the first one (state saved), starts on the same folder

    after = _predict(stack)
    assert after[0] == 200, after
    assert after[1]["model_version"] == before[1]["model_version"] == 1
    assert after[1]["probabilities"] == before[1]["probabilities"]
    assert _registry_artifact(stack) == (key, version_id)
    assert (
        client("s3")
        .get_object(Bucket=stack.names.model_bucket, Key=key, VersionId=version_id)["Body"]
        .read()
        == pinned_bytes
    )
    for written, content in ((older, b"one"), (newer, b"two")):  # every version, by its id
        assert (
            client("s3")
            .get_object(
                Bucket=stack.names.capture_bucket, Key="notes.txt", VersionId=written["VersionId"]
            )["Body"]
            .read()
            == content
        )
    alias_after = client("lambda").get_alias(
        FunctionName=stack.names.predict_function("iris"), Name="live"
    )
    assert alias_after["FunctionVersion"] == alias_before["FunctionVersion"]
    listing = CliRunner().invoke(app, ["models", "iris"])
    assert listing.exit_code == 0 and "production" in listing.output and "v1" in listing.output

    last_run_mail = Path(os.environ["MLOPS_HOME"]) / "outbox" / "last-run.eml"
    last_run_mail.parent.mkdir(exist_ok=True)
    last_run_mail.write_text("Subject: from the run before the reset\n")
    stack = start_stack(reset=True)
    status, body = _predict(stack)
    assert (status, body["error"]["code"]) == (503, "no_production_model")
    assert not (Path(os.environ["MLOPS_HOME"]) / "outbox.jsonl").exists()
    assert not last_run_mail.exists()  # the outbox's e-mails went with it


@pytest.mark.slow
def test_a_tampered_artifact_in_the_saved_state_is_refused_with_503(
    start_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    from mlops.local import snapshot

    stack = start_stack()
    _train_and_promote(tmp_path)
    key, version_id = _registry_artifact(stack)
    folder = stack.folder
    stack.stop()

    saved = snapshot.load(folder)
    assert saved is not None
    s3 = pickle.loads(saved.services["s3"])
    bucket = s3["aws"].buckets[stack.names.model_bucket]
    (pinned,) = [v for v in bucket.keys.getlist(key) if v.version_id == version_id]
    pinned.value = pinned.value[:-16] + b"\x00" * 16  # same size, other bytes
    saved.services["s3"] = snapshot._dumps(s3)
    snapshot.save(saved, folder)

    stack = start_stack()
    status, body = _predict(stack)
    assert status == 503, body
    assert body["error"]["code"] == "model_unavailable"
    assert body["error"]["details"]["reason"] == "artifact_sha256_mismatch"


def test_the_state_is_saved_when_a_request_changed_it_and_only_then(
    start_stack: Callable[..., LocalStack],
) -> None:
    from mlops.clients import client

    stack = start_stack()
    stack.save_state()  # whatever provisioning wrote
    assert stack.save_state() is False  # nothing since
    client("s3").list_objects_v2(Bucket=stack.names.data_bucket)
    client("dynamodb").scan(TableName=stack.names.registry_table)
    assert stack.save_state() is False  # reads change nothing
    client("dynamodb").put_item(
        TableName=stack.names.registry_table, Item={"pk": {"S": "x"}, "sk": {"S": "y"}}
    )
    assert stack.save_state() is True
    client("s3").put_object(Bucket=stack.names.data_bucket, Key="notes/a.txt", Body=b"a")
    assert stack.save_state() is True
