"""Drift monitoring end to end on the local stack, through HTTP and the CLI only: traffic like
training -> "no_drift" and no alert; two features shifted -> "drift" naming exactly those two
and one alert; back to normal -> one "recovered" alert; wrong labels as feedback -> a quality
alert. Alerts are read from the local outbox's `.eml` files."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import mlops.cli.drift_commands  # noqa: F401  (registers `drift` and `report` on the app)
from mlops.cli.main import app
from mlops.examples import diabetes_csv
from mlops.local.stack import LocalStack
from mlops.spec.files import SPECS_DIR_ENV
from tests.integration.test_local_stack import MODELS, _http, _wait_for, running_local_stack

NUMERIC = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
BATCH = 25


@pytest.fixture
def drift_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """The local stack on free ports (as test_local_stack's fixture), with the drift timer
    out of the way: checks run on demand (`mlops drift --now`), so the phases stay apart."""
    specs = tmp_path / "models"
    shutil.copytree(MODELS, specs)
    env = {"MLOPS_DRIFT_INTERVAL_SECONDS": "3600"}
    yield from running_local_stack(tmp_path, monkeypatch, specs, env)


def _rows() -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(diabetes_csv().decode())))
    return [{**{n: float(r[n]) for n in NUMERIC}, "sex": r["sex"]} for r in rows]


def _send(stack: LocalStack, n_rows: int, seed: int, shift: dict[str, float]) -> list[Any]:
    """`n_rows` training-like rows in batches; returns (request id, predictions) per batch."""
    rows = _rows()
    sds = {name: float(np.std([r[name] for r in rows], ddof=1)) for name in NUMERIC}
    rng = np.random.default_rng(seed)
    answered = []
    for start in range(0, n_rows, BATCH):
        batch = []
        for index in rng.integers(0, len(rows), min(BATCH, n_rows - start)):
            row = dict(rows[index])
            for name, units in shift.items():
                row[name] += units * sds[name]
            batch.append(row)
        status, body = _http(stack, "POST", "/models/diabetes/predict", {"instances": batch})
        assert status == 200, body
        answered.append((body["request_id"], body["predictions"]))
    return answered


def _check(expected: str) -> str:
    result = CliRunner().invoke(app, ["drift", "diabetes", "--now", "--timeout", "120"])
    assert result.exit_code == 0, result.output
    assert expected in result.output, result.output
    return str(result.output)


def _emails() -> list[email.message.EmailMessage]:
    folder = Path(os.environ["MLOPS_HOME"]) / "outbox"
    for _ in range(50):  # the alerts loop polls the outbox queue once a second
        time.sleep(0.1)
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def _drift_subjects() -> list[str]:
    """The drift and quality alerts on diabetes v1 (the rollout's "promoted" alert is not one)."""
    return [
        str(m["Subject"])
        for m in _emails()
        if "diabetes v1" in str(m["Subject"])
        and any(word in str(m["Subject"]) for word in ("drift", "quality"))
    ]


def test_drift_lifecycle_through_http_and_cli(drift_local: LocalStack, tmp_path: Path) -> None:
    spec = Path(os.environ[SPECS_DIR_ENV]) / "diabetes.toml"
    spec.write_text(spec.read_text() + "\n[drift]\ncapture_sample_rate = 1.0\n")
    data = tmp_path / "diabetes.csv"
    data.write_bytes(diabetes_csv())
    trained = CliRunner().invoke(app, ["train", "diabetes", str(data), "--timeout", "120"])
    assert trained.exit_code == 0, trained.output
    assert CliRunner().invoke(app, ["promote", "diabetes", "1"]).exit_code == 0
    # The local API re-reads alias `live` on its own schedule: wait until v1 answers.
    assert _wait_for(lambda: _http(drift_local, "GET", "/models/diabetes")[1].get("version") == 1)

    _send(drift_local, 1500, seed=1, shift={})
    _check("no_drift")
    assert _drift_subjects() == []

    _send(drift_local, 1500, seed=2, shift={"bmi": 0.8, "s5": -0.8})
    output = _check("drift: bmi, s5\n".rstrip())
    assert "drift: bmi, s5 " in output  # exactly those two features
    subjects = _drift_subjects()
    assert len(subjects) == 1 and subjects[0].startswith("[mlops] diabetes v1: drift in bmi, s5")
    (drift_mail,) = [m for m in _emails() if "drift in" in str(m["Subject"])]
    body = drift_mail.get_content()
    assert "mlops report diabetes --open" in body and "X-Amz-Expires=3600" in body

    _send(drift_local, 1500, seed=3, shift={})
    _check("no_drift")
    subjects = _drift_subjects()
    assert len(subjects) == 2 and subjects[1] == "[mlops] diabetes v1: drift recovered"

    answered = _send(drift_local, 300, seed=4, shift={})
    feedback = [
        {"request_id": request_id, "row": row, "actual": prediction + 300.0}
        for request_id, predictions in answered
        for row, prediction in enumerate(predictions)
    ]
    status, body = _http(drift_local, "POST", "/models/diabetes/feedback", {"feedback": feedback})
    assert (status, body) == (202, {"accepted": 300})
    output = _check("degraded")
    subjects = _drift_subjects()
    assert len(subjects) == 3 and subjects[2] == "[mlops] diabetes v1: quality dropped (r2)"

    saved = CliRunner().invoke(app, ["report", "diabetes", "--output", str(tmp_path / "r.html")])
    assert saved.exit_code == 0, saved.output
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 11  # 10 features + the predictions
