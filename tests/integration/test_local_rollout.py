"""The release story on `mlops local`, through the CLI and HTTP only.

v1 -> production without a human; v2 -> canary whose share of 2,000 HTTP requests is within 2
points of the spec's, then promoted on its evidence; a broken v3 (test-only fault injection on
its version, MLOPS_LOCAL_FAULTS) -> rolled back, production untouched, the alert in the outbox.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.local.stack import LocalStack
from tests.integration.test_local_stack import MODELS, _http, running_local_stack

ROW = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
#: A 20-minute bake, looks every 5, at one second per spec minute (MLOPS_ROLLOUT_MINUTE_SECONDS).
CANARY = """[canary]
traffic_percent = 10
bake_minutes = 20
evaluation_minutes = 5
max_extension_minutes = 20
max_error_rate = 0.01
# Everything runs in one process here: under a loaded machine (make test's two workers) the GIL
# alone has made a sub-millisecond model call take over 50 ms; the limit is about the model.
max_p99_latency_ms = 250
"""


@pytest.fixture
def rollout_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    specs = tmp_path / "models"
    specs.mkdir()
    for spec in MODELS.glob("*.toml"):
        text = spec.read_text()
        if spec.stem == "iris":
            text = re.sub(r"\[canary\].*?(?=\n\[)", CANARY, text, flags=re.S)
        (specs / spec.name).write_text(text)
    env = {
        "MLOPS_ROLLOUT_MINUTE_SECONDS": "1",
        "MLOPS_LOCAL_ROLLOUT_SECONDS": "0.5",
        "MLOPS_LOCAL_FAULTS": "iris:3=error",
    }
    yield from running_local_stack(tmp_path, monkeypatch, specs, env)


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}:\n{_cli('status', 'iris')}")


def _traffic(stack: LocalStack, count: int) -> tuple[Counter[int], Counter[int]]:
    """`count` predictions over HTTP: (answers per model version, answers per HTTP status)."""
    versions: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    for _ in range(count):
        status, body = _http(stack, "POST", "/models/iris/predict", {"instances": [ROW]})
        statuses[status] += 1
        if status == 200:
            versions[int(body["model_version"])] += 1
    return versions, statuses


def _serving(stack: LocalStack) -> Any:
    status, body = _http(stack, "GET", "/models/iris")
    return body.get("version") if status == 200 else None


def test_release_story_through_the_cli_and_http(rollout_stack: LocalStack, tmp_path: Path) -> None:
    from mlops.examples import iris_csv

    data = tmp_path / "iris.csv"
    data.write_bytes(iris_csv())

    _cli("train", "iris", str(data))  # v1: the first model goes straight to production
    _until(lambda: _serving(rollout_stack) == 1, 30, "v1 in production")

    _cli("train", "iris", str(data))  # v2: a canary on 10% of traffic
    _until(lambda: "canary v2 (model" in _cli("status", "iris"), 30, "v2 canary")
    time.sleep(1.1)  # the local API re-reads the alias at most once a second
    versions, statuses = _traffic(rollout_stack, 2000)
    share = versions[2] / 2000
    print(f"canary share over 2,000 requests: {share:.4f} (spec 0.10); statuses {statuses}")
    assert statuses == Counter({200: 2000})
    assert abs(share - 0.10) <= 0.02
    _traffic(rollout_stack, 2000)  # enough canary requests to exclude 2x the limits
    _until(
        lambda: _serving(rollout_stack) == 2 and "no canary" in _cli("status", "iris"),
        90,
        "v2 promoted",
    )
    assert "promoted" in _cli("status", "iris")

    _cli("train", "iris", str(data))  # v3: broken on its version (MLOPS_LOCAL_FAULTS)
    _until(lambda: "canary v3 (model" in _cli("status", "iris"), 30, "v3 canary")
    time.sleep(1.1)
    versions, statuses = _traffic(rollout_stack, 500)
    print(f"with the broken canary: versions {versions}, statuses {statuses}")
    assert set(statuses) == {200, 500} and set(versions) == {2}
    _until(lambda: "rolled_back" in _cli("status", "iris"), 30, "v3 rolled back")
    time.sleep(1.1)
    versions, statuses = _traffic(rollout_stack, 200)
    assert versions == Counter({2: 200}) and statuses == Counter({200: 200})
    outbox = Path(os.environ["MLOPS_HOME"]) / "outbox.jsonl"
    _until(lambda: outbox.is_file() and "v3: rolled back" in outbox.read_text(), 10, "alert")
    alert = next(
        json.loads(line) for line in outbox.read_text().splitlines() if "v3: rolled back" in line
    )
    assert "error_rate" in alert["message"]
