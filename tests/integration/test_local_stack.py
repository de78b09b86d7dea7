"""The local stack over HTTP: moto's server, the train loop, the API, the CLI — end to end.

Includes the acceptance path: a scikit-learn dataset the code has never seen, declared in a
new spec, uploaded through `mlops train` to `mlops local`, comes out registered.
"""

from __future__ import annotations

import csv
import io
import json
import os
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


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def running_local_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    specs: Path,
    env: dict[str, str] | None = None,
) -> Iterator[LocalStack]:
    """A started local stack reading `specs`, its state under tmp_path, `env` set; stopped and
    the process's environment, spec cache, moto backends and clients restored afterwards (the
    local-stack tests share this; each fixture prepares its own specs and settings)."""
    saved = dict(os.environ)
    monkeypatch.setenv(SPECS_DIR_ENV, str(specs))
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    monkeypatch.setenv("MLOPS_LOCAL_API_KEY", "test-key")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MLOPS_STACK"):
        monkeypatch.delenv(key, raising=False)
    _load_cached.cache_clear()
    # Port 0: the servers bind a free port and the stack reads it back. (Probing for a free
    # port and binding it later races with other test workers taking it in between.)
    stack = LocalStack(moto_port=0, api_port=0, say=lambda line: None, poll_seconds=0.2)
    stack.start()
    yield stack
    stack.stop()
    # moto's backends are process-wide: a later stack in this process must not see this one's.
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    os.environ.clear()
    os.environ.update(saved)
    _load_cached.cache_clear()
    from mlops.clients import reset_clients

    reset_clients()


@pytest.fixture
def local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    specs = tmp_path / "models"
    specs.mkdir()
    for spec in MODELS.glob("*.toml"):
        (specs / spec.name).write_text(spec.read_text())
    yield from running_local_stack(tmp_path, monkeypatch, specs)


def _http(
    stack: LocalStack, method: str, path: str, body: Any = None, key: str | None = "test-key"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{stack.api_url}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def _dataset_csv(loader_name: str, target: str) -> tuple[str, list[str]]:
    import sklearn.datasets

    data = getattr(sklearn.datasets, loader_name)()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*data.feature_names, target])
    for row, label in zip(data.data, data.target, strict=True):
        writer.writerow([*(f"{v:g}" for v in row), data.target_names[label]])
    return buffer.getvalue(), list(data.feature_names)


@pytest.mark.parametrize(
    ("loader", "model", "estimator"),
    [
        (
            "load_wine",
            "wine",
            'name = "gradient_boosting_classifier"\nparams = { random_state = 0 }',
        ),
        ("load_breast_cancer", "breast_cancer", 'name = "random_forest_classifier"'),
    ],
)
def test_unseen_dataset_declared_in_a_new_spec_trains_through_mlops_train(
    local_stack: LocalStack, tmp_path: Path, loader: str, model: str, estimator: str
) -> None:
    text, features = _dataset_csv(loader, "label")
    spec_lines = [f'name = "{model}"', 'task = "classification"', 'target = "label"', ""]
    for name in features:
        spec_lines += ["[[features]]", f"name = {json.dumps(name)}", 'type = "numeric"', ""]
    spec_lines += [
        "[estimator]",
        estimator,
        "",
        "[quality_gate]",
        'metric = "accuracy"',
        "threshold = 0.8",
    ]
    specs_dir = Path(os.environ[SPECS_DIR_ENV])
    (specs_dir / f"{model}.toml").write_text("\n".join(spec_lines) + "\n")
    data_file = tmp_path / f"{model}.csv"
    data_file.write_text(text)

    result = CliRunner().invoke(app, ["train", model, str(data_file), "--timeout", "120"])

    assert result.exit_code == 0, result.output
    assert f"{model}: registered as v1" in result.output
    assert "accuracy" in result.output
    listing = CliRunner().invoke(app, ["models", model])
    assert "registered" in listing.output


def test_bad_file_through_cli_shows_reasons_and_exits_nonzero(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    from mlops.examples import broken_iris_csv

    bad = tmp_path / "bad.csv"
    bad.write_bytes(broken_iris_csv())
    result = CliRunner().invoke(app, ["train", "iris", str(bad), "--timeout", "120"])
    assert result.exit_code == 1
    assert "iris: failed" in result.output
    assert "[non_numeric_value]" in result.output and "[missing_target]" in result.output
    outbox = Path(os.environ["MLOPS_HOME"]) / "outbox.jsonl"
    # The alerts loop writes the outbox on its own schedule: wait for the line, not the file.
    assert _wait_for(
        lambda: outbox.is_file() and "training failed for iris" in outbox.read_text()
    ), f"no failure alert in {outbox} after 10 s"


def test_api_serves_after_promotion_and_honours_the_api_key(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    from mlops.examples import iris_csv

    row = {
        "sepal length (cm)": 6.7,
        "sepal width (cm)": 3.0,
        "petal length (cm)": 5.2,
        "petal width (cm)": 2.3,
    }
    assert _http(local_stack, "GET", "/models/iris")[1]["error"]["code"] == "no_production_model"
    data_file = tmp_path / "iris.csv"
    data_file.write_bytes(iris_csv())
    assert CliRunner().invoke(app, ["train", "iris", str(data_file)]).exit_code == 0
    promoted = CliRunner().invoke(app, ["promote", "iris", "1"])
    assert promoted.exit_code == 0, promoted.output
    # The local API re-reads alias `live` on its own schedule (at most once a second): wait
    # until it serves the promoted version rather than assume when that happens.
    answers: list[tuple[int, dict[str, Any]]] = []

    def serves_a_model() -> bool:
        answers.append(_http(local_stack, "POST", "/models/iris/predict", {"instances": [row]}))
        return answers[-1][0] != 503  # 503 no_production_model until the alias is re-read

    assert _wait_for(serves_a_model), answers[-1]
    status, body = answers[-1]
    assert (status, body["predictions"], body["model_version"]) == (200, ["virginica"], 1)
    assert (
        _http(local_stack, "POST", "/models/iris/predict", {"instances": [row]}, key=None)[0] == 403
    )
    assert (
        _http(local_stack, "POST", "/models/iris/predict", {"instances": [row]}, key="wrong")[0]
        == 403
    )
    status, body = _http(local_stack, "GET", "/models/ghost")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = _http(local_stack, "POST", "/models/iris/predict", {"instances": [{}]})
    assert (status, body["error"]["code"]) == (422, "schema_violation")
    status, document = _http(local_stack, "GET", "/openapi.json")
    assert status == 200
    assert "/models/iris/predict" in document["paths"]
    cli = CliRunner().invoke(app, ["predict", "iris", "--json", json.dumps(row)])
    assert cli.exit_code == 0 and "virginica" in cli.output
    # The Open Inference Protocol's routes, behind the same gateway (key, per-model routes).
    inputs = [
        {"name": name, "shape": [1], "datatype": "FP32", "data": [value]}
        for name, value in row.items()
    ]
    status, body = _http(local_stack, "POST", "/v2/models/iris/infer", {"inputs": inputs})
    assert status == 200, body
    assert (body["model_version"], body["outputs"][0]["data"]) == ("1", ["virginica"])
    assert _http(local_stack, "POST", "/v2/models/iris/infer", {"inputs": inputs}, key=None)[0] == (
        403
    )
    status, body = _http(local_stack, "POST", "/v2/models/ghost/infer", {"inputs": inputs})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = _http(local_stack, "POST", "/v2/models/iris/infer", {"inputs": inputs[:3]})
    assert (status, body["code"]) == (422, "schema_violation")
    assert body["error"].startswith("input 'petal width (cm)': missing")
    assert _http(local_stack, "GET", "/v2/models/iris/ready") == (
        200,
        {"name": "iris", "ready": True},
    )
    status, body = _http(local_stack, "GET", "/v2/models/iris")
    assert (status, [tensor["name"] for tensor in body["inputs"]]) == (200, list(row))
    assert "/v2/models/iris/infer" in document["paths"]


@pytest.mark.parametrize("length", ["Ml2HSL0", "-5", "1e3", "٣"])
def test_a_content_length_that_is_not_a_byte_count_is_a_400_not_a_dropped_connection(
    local_stack: LocalStack, length: str
) -> None:
    """schemathesis sent `Content-Length: Ml2HSL0`: the server raised in its thread and closed
    the connection without an answer (the client saw 'Remote end closed connection')."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(local_stack.api_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            (
                "GET /v2/models/iris/ready HTTP/1.1\r\nHost: x\r\nx-api-key: test-key\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
        )
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "Content-Length must be a non-negative integer" in answer
