"""The training slice through its real entry point: S3 put -> SQS -> train handler -> registry."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mlops.clients import client
from mlops.examples import diabetes_csv, iris_csv
from mlops.local.context import LocalContext
from mlops.registry import RegistryStore, run_id_for
from tests.conftest import load_event
from tests.integration.conftest import TrainingStack
from train.handler import handler


def registry(stack: TrainingStack) -> RegistryStore:
    return RegistryStore(client("dynamodb"), stack.resources.names.registry_table)


def run_handler(event: dict[str, Any]) -> dict[str, Any]:
    return dict(handler(event, LocalContext("mlops-train", "test").as_lambda_context()))


def test_upload_trains_and_registers_with_matching_sha256(training_stack: TrainingStack) -> None:
    training_stack.upload("training/iris/first.csv", iris_csv())
    result = run_handler(training_stack.receive_event())

    assert result == {"batchItemFailures": []}
    version = registry(training_stack).get_version("iris", 1)
    assert version.status == "registered"
    assert version.metrics["f1_macro"] is not None and version.metrics["f1_macro"] > 0.85
    assert version.parity["max_abs_difference"] < 1e-4
    body = (
        client("s3")
        .get_object(
            Bucket=training_stack.resources.names.model_bucket, Key="models/iris/v1/model.onnx"
        )["Body"]
        .read()
    )
    assert hashlib.sha256(body).hexdigest() == version.model_artifact.sha256
    for name in ("baseline.json", "metrics.json", "card.md"):
        assert name in version.artifacts
    lineage = version.lineage
    assert lineage["data_key"] == "training/iris/first.csv"
    assert lineage["data_sha256"] == hashlib.sha256(iris_csv()).hexdigest()
    assert lineage["data_version_id"]
    assert lineage["libraries"]["scikit-learn"]


def test_regression_model_registers_with_regression_metrics(training_stack: TrainingStack) -> None:
    training_stack.upload("training/diabetes/d.csv", diabetes_csv())
    run_handler(training_stack.receive_event())
    version = registry(training_stack).get_version("diabetes", 1)
    assert version.status == "registered"
    assert set(version.metrics) == {"rmse", "mae", "r2"}
    assert version.metrics["r2"] is not None and version.metrics["r2"] > 0.25


def test_version_stores_its_drift_reference_with_sha256(training_stack: TrainingStack) -> None:
    from mlops.drift import read_columns
    from mlops.registry.artifacts import REFERENCE_FEATURES, REFERENCE_PREDICTIONS

    training_stack.upload("training/diabetes/d.csv", diabetes_csv())
    run_handler(training_stack.receive_event())
    version = registry(training_stack).get_version("diabetes", 1)
    stored = {}
    for name in (REFERENCE_FEATURES, REFERENCE_PREDICTIONS):
        ref = version.artifacts[name]
        assert ref.key == f"models/diabetes/v1/{name}"
        body = (
            client("s3")
            .get_object(Bucket=training_stack.resources.names.model_bucket, Key=ref.key)["Body"]
            .read()
        )
        assert hashlib.sha256(body).hexdigest() == ref.sha256
        stored[name] = read_columns(body)
    features = stored[REFERENCE_FEATURES]
    assert features.columns.rows == 442  # every training row, not baseline.json's 500-value cap
    assert features.metadata["rows_before_sampling"] == 442
    assert set(features.columns.categorical) == {"sex"}
    assert len(features.columns.numeric) == 9
    predictions = stored[REFERENCE_PREDICTIONS].columns.numeric["prediction"]
    metrics = json.loads(
        client("s3")
        .get_object(
            Bucket=training_stack.resources.names.model_bucket,
            Key=version.artifacts["metrics.json"].key,
        )["Body"]
        .read()
    )
    assert predictions.size == metrics["data"]["test_rows"]  # held-out rows: unbiased


def test_url_encoded_key_with_spaces_is_decoded(training_stack: TrainingStack) -> None:
    training_stack.upload("training/iris/my upload (1).csv", iris_csv())
    event = training_stack.receive_event()
    assert "my+upload" in event["Records"][0]["body"]
    run_handler(event)
    version = registry(training_stack).get_version("iris", 1)
    assert version.lineage["data_key"] == "training/iris/my upload (1).csv"


def test_s3_test_event_is_consumed_without_a_run(training_stack: TrainingStack) -> None:
    result = run_handler(load_event("sqs_s3_test_event"))
    assert result == {"batchItemFailures": []}
    assert registry(training_stack).list_runs("iris") == []


def test_duplicate_s3_event_creates_one_version(training_stack: TrainingStack) -> None:
    training_stack.upload("training/iris/dup.csv", iris_csv())
    event = training_stack.receive_event()
    assert run_handler(event) == {"batchItemFailures": []}
    # At-least-once delivery: the same message again is consumed, not retried or failed.
    assert run_handler(event) == {"batchItemFailures": []}
    store = registry(training_stack)
    assert [(v.version, v.status) for v in store.list_versions("iris")] == [(1, "registered")]
    [run] = store.list_runs("iris")
    assert (run.status, run.version, run.attempts, run.notified) == ("registered", 1, 0, True)
    assert run.problems == []


def test_concurrent_uploads_get_distinct_versions(training_stack: TrainingStack) -> None:
    for index in range(3):
        training_stack.upload(f"training/iris/concurrent-{index}.csv", iris_csv())
    event = training_stack.receive_event()
    assert len(event["Records"]) == 3
    single_events = [{"Records": [record]} for record in event["Records"]]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run_handler, single_events))
    assert all(result == {"batchItemFailures": []} for result in results)
    versions = registry(training_stack).list_versions("iris")
    assert sorted(v.version for v in versions) == [1, 2, 3]
    assert len({v.run_id for v in versions}) == 3


def test_registration_emits_registered_event_consumable_by_rollout(
    training_stack: TrainingStack,
) -> None:
    sqs, events = client("sqs"), client("events")
    queue_url = sqs.create_queue(QueueName="registry-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="registry", EventPattern=json.dumps({"source": ["serverless-mlops"]}))
    events.put_targets(Rule="registry", Targets=[{"Id": "q", "Arn": queue_arn}])
    training_stack.upload("training/iris/e.csv", iris_csv())
    run_handler(training_stack.receive_event())
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    detail_types = [json.loads(m["Body"])["detail-type"] for m in messages]
    assert detail_types == ["ModelRegistered"]
    detail = json.loads(messages[0]["Body"])["detail"]
    assert detail["model"] == "iris" and detail["version"] == 1


def test_champion_challenger_rejects_a_worse_candidate(
    training_stack: TrainingStack, specs_dir: Path
) -> None:
    store = registry(training_stack)
    training_stack.upload("training/iris/good.csv", iris_csv())
    run_handler(training_stack.receive_event())
    assert store.set_production("iris", 1, expected=None)

    # The spec now asks for a one-split stump with a low floor: it clears the floor but loses
    # to production, scored on the same held-out rows (same data, same seed, same split).
    spec_file = specs_dir / "iris.toml"
    weak = (
        spec_file.read_text()
        .replace(
            'name = "random_forest_classifier"\nparams = { n_estimators = 100, max_depth = 6, '
            "random_state = 0 }",
            'name = "decision_tree_classifier"\nparams = { max_depth = 1 }',
        )
        .replace("threshold = 0.85", "threshold = 0.3")
    )
    assert weak != spec_file.read_text()
    spec_file.write_text(weak)
    training_stack.upload("training/iris/weak.csv", iris_csv())
    run_handler(training_stack.receive_event())

    candidate = store.get_version("iris", 2)
    assert candidate.status == "rejected"
    assert candidate.comparison["production_version"] == 1
    assert candidate.comparison["candidate"] >= 0.3
    assert candidate.comparison["production"] > candidate.comparison["candidate"] + 0.02
    assert "loses to production v1" in candidate.comparison["reason"]
    assert store.get_pointers("iris").production == 1
    alerts = training_stack.alerts()
    assert any("rejected" in alert["Subject"] for alert in alerts)


def test_candidate_as_good_as_production_is_registered(training_stack: TrainingStack) -> None:
    store = registry(training_stack)
    training_stack.upload("training/iris/a.csv", iris_csv())
    run_handler(training_stack.receive_event())
    store.set_production("iris", 1, expected=None)
    training_stack.upload("training/iris/b.csv", iris_csv() + b"\n")
    run_handler(training_stack.receive_event())
    candidate = store.get_version("iris", 2)
    assert candidate.status == "registered"
    assert candidate.comparison["production"] == pytest.approx(candidate.comparison["candidate"])


def test_run_id_is_the_object_identity(training_stack: TrainingStack) -> None:
    response = training_stack.upload("training/iris/id.csv", iris_csv())
    run_handler(training_stack.receive_event())
    store = registry(training_stack)
    runs = store.list_runs("iris")
    assert runs[0].run_id == run_id_for(runs[0].source)
    assert store.get_version("iris", 1).lineage["data_version_id"] == response["VersionId"]


def test_a_notification_and_a_replay_naming_the_version_train_once(
    training_stack: TrainingStack,
) -> None:
    """moto's notification omits `versionId`, AWS's and a replay's carry it: one object."""
    import copy

    response = training_stack.upload("training/iris/replayed.csv", iris_csv())
    delivered = training_stack.receive_event()
    body = json.loads(delivered["Records"][0]["body"])
    assert "versionId" not in body["Records"][0]["s3"]["object"]  # moto, as DESIGN §6 says
    run_handler(delivered)

    replay = copy.deepcopy(delivered)
    body["Records"][0]["s3"]["object"]["versionId"] = response["VersionId"]
    replay["Records"][0]["body"] = json.dumps(body)
    replay["Records"][0]["messageId"] = "replayed-message"
    run_handler(replay)

    store = registry(training_stack)
    assert [v.version for v in store.list_versions("iris")] == [1]
    assert len(store.list_runs("iris")) == 1
