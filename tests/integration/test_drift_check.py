"""The drift check through its real entry point (the drift handler with the schedule's SQS
message) against moto: capture objects in the capture bucket, as Firehose lands them."""

from __future__ import annotations

import copy
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import numpy as np
import pytest

from mlops.clients import client
from mlops.examples import diabetes_csv
from mlops.local.capture_store import capture_key
from tests.conftest import load_event
from tests.integration.conftest import TrainingStack, lambda_context, train_and_promote

MODEL = "diabetes"
NUMERIC = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture
def drift_stack(training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from drift import handler as drift_handler

    train_and_promote(training_stack, MODEL, diabetes_csv())
    names = training_stack.resources.names
    for key, value in {
        "MODEL_BUCKET": names.model_bucket,
        "CAPTURE_BUCKET": names.capture_bucket,
        "DATA_BUCKET": names.data_bucket,
        "REGISTRY_TABLE": names.registry_table,
        "ALERTS_TOPIC_ARN": training_stack.resources.alerts_topic_arn,
    }.items():
        monkeypatch.setenv(key, value)
    drift_handler.dependencies.cache_clear()
    training_stack.alerts()  # drop the training announcements
    yield training_stack
    drift_handler.dependencies.cache_clear()


def training_rows() -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(diabetes_csv().decode())))
    return [{**{name: float(row[name]) for name in NUMERIC}, "sex": row["sex"]} for row in rows]


def traffic(
    n: int, seed: int, shift: dict[str, float] | None = None, sex: str | None = None
) -> list[dict[str, Any]]:
    """`n` requests of one row, drawn from the training rows (shifted by `shift` sds)."""
    rows = training_rows()
    sds = {name: float(np.std([r[name] for r in rows], ddof=1)) for name in NUMERIC}
    rng = np.random.default_rng(seed)
    drawn = []
    for index in rng.integers(0, len(rows), n):
        row = dict(rows[index])
        for name, sd_units in (shift or {}).items():
            row[name] += sd_units * sds[name]
        if sex is not None:
            row["sex"] = sex
        drawn.append(row)
    return drawn


def land_capture(
    stack: TrainingStack,
    rows: list[dict[str, Any]],
    *,
    feedback: list[dict[str, Any]] | None = None,
    prediction: float = 150.0,
) -> list[str]:
    """One capture object, as Firehose would write it; returns the request ids."""
    now = datetime.now(UTC)
    lines, ids = [], []
    for row in rows:
        request_id = uuid.uuid4().hex
        ids.append(request_id)
        lines.append(
            {
                "capture": True,
                "kind": "prediction",
                "model": MODEL,
                "model_version": 1,
                "request_id": request_id,
                "timestamp": now.isoformat(),
                "outputs": [prediction],
                "inputs": [row],
            }
        )
    if feedback:
        lines.append(
            {
                "capture": True,
                "kind": "feedback",
                "model": MODEL,
                "model_version": 1,
                "request_id": "fb",
                "timestamp": now.isoformat(),
                "feedback": feedback,
            }
        )
    client("s3").put_object(
        Bucket=stack.resources.names.capture_bucket,
        Key=capture_key(MODEL, now),
        Body="".join(json.dumps(line) + "\n" for line in lines).encode(),
    )
    return ids


def run_check(when: datetime) -> dict[str, Any]:
    from drift.handler import handler

    event = copy.deepcopy(load_event("sqs_drift_schedule"))
    event["Records"][0]["body"] = json.dumps(
        {"model": MODEL, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    return dict(handler(event, lambda_context("mlops-drift")))


def latest(stack: TrainingStack) -> dict[str, Any]:
    from mlops.drift.run import DriftStateStore

    found = DriftStateStore(client("dynamodb"), stack.resources.names.registry_table).latest(MODEL)
    assert found is not None
    return found


def result_of(stack: TrainingStack, summary: dict[str, Any]) -> dict[str, Any]:
    key = summary["report_key"].replace("report.html", "result.json")
    body = client("s3").get_object(Bucket=stack.resources.names.capture_bucket, Key=key)["Body"]
    return dict(json.loads(body.read()))


HOUR = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def test_small_window_is_insufficient_data_with_no_alert(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(50, seed=1))
    assert run_check(HOUR) == {"batchItemFailures": []}
    summary = latest(drift_stack)
    assert summary["verdict"] == "insufficient_data"
    assert drift_stack.alerts() == []


def test_training_distribution_is_ok_and_silent(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(1500, seed=2))
    run_check(HOUR)
    summary = latest(drift_stack)
    assert summary["verdict"] == "no_drift"
    assert summary["version"] == 1
    assert result_of(drift_stack, summary)["reference_kind"] == "training_columns"
    assert drift_stack.alerts() == []


def test_two_shifted_features_alert_once_naming_exactly_them(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(1500, seed=3, shift={"bmi": 0.8, "s5": -0.8}))
    run_check(HOUR)
    summary = latest(drift_stack)
    assert (summary["verdict"], sorted(summary["drifted"])) == ("drift", ["bmi", "s5"])
    (alert,) = drift_stack.alerts()
    assert alert["Subject"] == "[mlops] diabetes v1: drift in bmi, s5"
    message = alert["Message"]
    assert "- bmi: ks_2samp statistic" in message and "- s5: ks_2samp statistic" in message
    assert "mlops report diabetes" in message
    assert "expires" in message and "X-Amz-Expires=3600" in message
    assert "role session" in message

    # The same drift next hour: the state did not change, so no second alert.
    land_capture(drift_stack, traffic(1500, seed=4, shift={"bmi": 0.8, "s5": -0.8}))
    run_check(HOUR + timedelta(hours=1))
    assert latest(drift_stack)["verdict"] == "drift"
    assert drift_stack.alerts() == []

    # Back to normal: one "recovered" alert; the window starts after the drifted check.
    land_capture(drift_stack, traffic(1500, seed=5))
    run_check(HOUR + timedelta(hours=2))
    assert latest(drift_stack)["verdict"] == "no_drift"
    (recovered,) = drift_stack.alerts()
    assert recovered["Subject"] == "[mlops] diabetes v1: drift recovered"


def test_duplicate_scheduled_event_gives_one_check_and_one_alert(
    drift_stack: TrainingStack,
) -> None:
    land_capture(drift_stack, traffic(1500, seed=6, shift={"bmi": 0.8, "s5": -0.8}))
    run_check(HOUR)
    first = latest(drift_stack)
    run_check(HOUR)  # the same EventBridge schedule time, delivered again
    assert latest(drift_stack) == first
    assert len(drift_stack.alerts()) == 1
    reports = client("s3").list_objects_v2(
        Bucket=drift_stack.resources.names.capture_bucket, Prefix="reports/diabetes/"
    )["Contents"]
    assert len(reports) == 2  # one check: result.json + report.html


def test_insufficient_then_ok_does_not_alert(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(50, seed=7))
    run_check(HOUR)
    land_capture(drift_stack, traffic(1500, seed=8))
    run_check(HOUR + timedelta(hours=1))
    assert latest(drift_stack)["verdict"] == "no_drift"
    assert drift_stack.alerts() == []


def test_unseen_category_is_counted_and_drifts(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(1500, seed=9, sex="3"))
    run_check(HOUR)
    summary = latest(drift_stack)
    assert "sex" in summary["drifted"]
    row = next(f for f in result_of(drift_stack, summary)["features"] if f["feature"] == "sex")
    assert row["unseen"] == {"3": 1500}
    assert row["verdict"] == "drift"


def test_capture_object_is_compacted_once_and_read_as_parquet_after(
    drift_stack: TrainingStack,
) -> None:
    land_capture(drift_stack, traffic(50, seed=10))
    run_check(HOUR)  # insufficient: the window stays open
    s3 = client("s3")
    bucket = drift_stack.resources.names.capture_bucket
    compacted = s3.list_objects_v2(Bucket=bucket, Prefix="compacted/model=diabetes/version=1/")
    keys = sorted(item["Key"] for item in compacted["Contents"])
    assert [key.rsplit(".", 2)[-2] for key in keys] == [
        "feedback",
        "inputs",
        "predictions",
        "requests",
    ]
    # Replace the JSON with garbage: the next check must not parse it again.
    (capture,) = s3.list_objects_v2(Bucket=bucket, Prefix="capture/model=diabetes/")["Contents"]
    s3.put_object(Bucket=bucket, Key=capture["Key"], Body=b"not json")
    assert run_check(HOUR + timedelta(hours=1)) == {"batchItemFailures": []}
    assert result_of(drift_stack, latest(drift_stack))["window"]["requests"] == 50


def test_report_is_self_contained_with_one_plot_per_feature(drift_stack: TrainingStack) -> None:
    land_capture(drift_stack, traffic(1500, seed=11, shift={"bmi": 0.8}))
    run_check(HOUR)
    key = latest(drift_stack)["report_key"]
    assert key.startswith("reports/diabetes/20261201T010000Z/")
    page = (
        client("s3")
        .get_object(Bucket=drift_stack.resources.names.capture_bucket, Key=key)["Body"]
        .read()
    )
    assert len(page) < 1_000_000
    text = page.decode()
    assert text.index("DRIFT: bmi") < text.index("<table>")  # the verdict first
    assert text.count('src="data:image/png;base64,') == 10 + 1  # 10 features + prediction
    assert "http://" not in text and "https://" not in text and "<script" not in text
    for header in ("feature", "test", "statistic", "corrected p", "effect", "threshold"):
        assert f"<th>{header}</th>" in text


def test_wrong_labels_give_one_quality_alert_and_unjoinable_feedback_is_counted(
    drift_stack: TrainingStack,
) -> None:
    rows = traffic(400, seed=12)
    ids = land_capture(drift_stack, rows, prediction=150.0)
    feedback = [{"request_id": rid, "row": 0, "actual": 400.0} for rid in ids]
    feedback += [
        {"request_id": "never-served", "row": 0, "actual": 1.0},
        {"request_id": ids[0], "row": 3, "actual": 1.0},
    ]
    land_capture(drift_stack, [], feedback=feedback)
    run_check(HOUR)
    summary = latest(drift_stack)
    assert summary["quality"] == "degraded"
    result = result_of(drift_stack, summary)
    assert result["feedback"] == {
        "joined": 400,
        "unknown_request_ids": 1,
        "rows_out_of_range": 1,
        "duplicates": 0,
    }
    (alert,) = drift_stack.alerts()
    assert alert["Subject"] == "[mlops] diabetes v1: quality dropped (r2)"


def test_overlapping_checks_cannot_both_move_the_state(drift_stack: TrainingStack) -> None:
    from botocore.exceptions import ClientError

    from mlops.drift.run import DriftStateStore

    land_capture(drift_stack, traffic(1500, seed=13))
    run_check(HOUR)
    store = DriftStateStore(client("dynamodb"), drift_stack.resources.names.registry_table)
    stale = store.get_state(MODEL)
    run_check(HOUR + timedelta(hours=1))  # another check moved the state meanwhile
    store.claim(MODEL, "stale-check", 60)
    with pytest.raises(ClientError, match="TransactionCanceled"):
        store.decide(
            MODEL,
            "stale-check",
            {**stale, "state": "drift"},
            {},
            None,
            expected_revision=int(stale["revision"]),
        )
    assert store.get_state(MODEL)["state"] == "ok"


def test_retrain_on_drift_copies_the_newest_labelled_csv_once(
    drift_stack: TrainingStack, specs_dir: Any
) -> None:
    """Off by default; a spec that opts in starts one training run per drift alert."""
    from mlops.registry import RegistryStore
    from train.handler import handler as train_handler

    spec = specs_dir / "diabetes.toml"
    spec.write_text(
        spec.read_text()
        + '\n[drift]\nretrain_on_drift = true\nretrain_from = "labelled/diabetes/"\n'
    )
    s3 = client("s3")
    data_bucket = drift_stack.resources.names.data_bucket
    s3.put_object(Bucket=data_bucket, Key="labelled/diabetes/old.csv", Body=b"not this one")
    s3.put_object(Bucket=data_bucket, Key="labelled/diabetes/new.csv", Body=diabetes_csv())
    land_capture(drift_stack, traffic(1500, seed=14, shift={"bmi": 0.8, "s5": -0.8}))
    run_check(HOUR)
    run_check(HOUR)  # redelivered: no second copy
    (alert,) = drift_stack.alerts()
    assert (
        "Retraining started" in alert["Message"] and "labelled/diabetes/new.csv" in alert["Message"]
    )
    event = drift_stack.receive_event()
    keys = [  # S3 URL-encodes keys in its notifications
        unquote_plus(json.loads(r["body"])["Records"][0]["s3"]["object"]["key"])
        for r in event["Records"]
    ]
    assert keys == ["training/diabetes/retrain-20261201T010000Z.csv"]
    train_handler(event, lambda_context("mlops-train"))
    registry = RegistryStore(client("dynamodb"), drift_stack.resources.names.registry_table)
    assert registry.get_version(MODEL, 2).lineage["data_key"] == keys[0]
