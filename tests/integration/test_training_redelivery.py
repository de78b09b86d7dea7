"""At-least-once delivery through the train handler: what a redelivered message must finish.

A Lambda invocation can stop anywhere (an outage of a downstream service, a timeout); SQS then
delivers the same message again. These tests stop the first delivery at a chosen point and
check what the redelivery does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from mlops.clients import client
from mlops.examples import broken_iris_csv, iris_csv
from mlops.notifications import RegistryEvents
from mlops.registry import ArtifactStore, RegistryStore, SourceObject, run_id_for
from mlops.training.run import RunOutcome, process_training_object, resolve_version
from tests.integration.conftest import TrainingStack
from tests.integration.test_training_flow import run_handler
from train.handler import dependencies, objects_in_message


def _store(stack: TrainingStack) -> RegistryStore:
    return RegistryStore(client("dynamodb"), stack.resources.names.registry_table)


class RegistryEventQueue:
    """Registry events as a consumer sees them: an EventBridge rule with an SQS target."""

    def __init__(self) -> None:
        sqs, events = client("sqs"), client("events")
        self.url = sqs.create_queue(QueueName="registry-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="registry", EventPattern=json.dumps({"source": ["serverless-mlops"]}))
        events.put_targets(Rule="registry", Targets=[{"Id": "q", "Arn": arn}])

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        sqs = client("sqs")
        found: list[tuple[str, dict[str, Any]]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                body = json.loads(message["Body"])
                found.append((body["detail-type"], body["detail"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def _events_outage(monkeypatch: pytest.MonkeyPatch, detail_type: str) -> None:
    """EventBridge refuses `detail_type` once (the first delivery stops after the registry
    recorded the outcome, before it was announced)."""
    emit = RegistryEvents.emit
    failures = [detail_type]

    def flaky_emit(self: RegistryEvents, kind: str, detail: dict[str, Any]) -> None:
        if kind in failures:
            failures.remove(kind)
            raise ConnectionError("EventBridge is unreachable")
        emit(self, kind, detail)

    monkeypatch.setattr(RegistryEvents, "emit", flaky_emit)


def test_model_registered_lost_to_an_outage_is_sent_on_redelivery(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = RegistryEventQueue()
    store = _store(training_stack)
    training_stack.upload("training/iris/a.csv", iris_csv())
    event = training_stack.receive_event()
    _events_outage(monkeypatch, "ModelRegistered")

    # The one-message batch failed: Powertools raises, and SQS delivers the message again.
    with pytest.raises(BatchProcessingError, match="EventBridge is unreachable"):
        run_handler(event)
    [run] = store.list_runs("iris")
    assert (run.status, run.version, run.notified) == ("registered", 1, False)
    assert events.drain() == []

    assert run_handler(event) == {"batchItemFailures": []}

    [(detail_type, detail)] = events.drain()
    version = store.get_version("iris", 1)
    assert detail_type == "ModelRegistered"
    assert detail == {
        "model": "iris",
        "version": 1,
        "run_id": run.run_id,
        "status": "registered",
        "metrics": version.metrics,
        "comparison": version.comparison,
    }
    assert detail["metrics"]["f1_macro"] > 0.85
    assert store.list_runs("iris")[0].notified
    assert [v.version for v in store.list_versions("iris")] == [1]
    run_handler(event)  # a third delivery: already announced, nothing more
    assert events.drain() == []


def test_model_rejected_lost_to_an_outage_is_sent_on_redelivery(
    training_stack: TrainingStack, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_file = specs_dir / "iris.toml"
    strict = spec_file.read_text().replace("threshold = 0.85", "threshold = 1.0")
    strict = strict.replace("max_depth = 6,", "max_depth = 1,")  # a stump cannot reach 1.0
    assert "threshold = 1.0" in strict and "max_depth = 1," in strict
    spec_file.write_text(strict)
    events = RegistryEventQueue()
    store = _store(training_stack)
    training_stack.upload("training/iris/a.csv", iris_csv())
    event = training_stack.receive_event()
    _events_outage(monkeypatch, "ModelRejected")

    with pytest.raises(BatchProcessingError, match="EventBridge is unreachable"):
        run_handler(event)
    [run] = store.list_runs("iris")
    assert (run.status, run.version, run.notified) == ("rejected", 1, False)
    assert events.drain() == []
    assert training_stack.alerts() == []

    assert run_handler(event) == {"batchItemFailures": []}

    [(detail_type, detail)] = events.drain()
    version = store.get_version("iris", 1)
    assert detail_type == "ModelRejected"
    assert detail == {
        "model": "iris",
        "version": 1,
        "run_id": run.run_id,
        "status": "rejected",
        "metrics": version.metrics,
        "comparison": version.comparison,
    }
    reason = version.comparison["reason"]
    assert "below the floor" in reason
    [alert] = training_stack.alerts()
    assert alert["Subject"] == "[mlops] iris v1 rejected by its quality gate"
    assert alert["Message"] == (
        f"Model iris v1, trained from s3://{training_stack.data_bucket}/training/iris/a.csv, "
        f"was rejected: {reason}.\nNothing changed in serving."
    )
    assert _attributes(alert) == {"model": "iris", "kind": "candidate_rejected"}
    assert store.list_runs("iris")[0].notified
    assert store.get_version("iris", 1).status == "rejected"


def test_a_crashed_run_keeps_its_allocated_version(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery allocated v1 and died writing artifacts; the redelivery finishes v1
    (no gap, no second number), even though another upload registered v2 in between."""
    store = _store(training_stack)
    training_stack.upload("training/iris/crash.csv", iris_csv())
    event = training_stack.receive_event()
    put_version = ArtifactStore.put_version
    outage = [True]

    def put_version_once_down(self: ArtifactStore, *args: Any, **kwargs: Any) -> Any:
        if outage:
            outage.pop()
            raise ConnectionError("S3 is unreachable")
        return put_version(self, *args, **kwargs)

    monkeypatch.setattr(ArtifactStore, "put_version", put_version_once_down)

    with pytest.raises(BatchProcessingError, match="S3 is unreachable"):
        run_handler(event)
    [crashed] = store.list_runs("iris")
    assert (crashed.status, crashed.version) == ("running", 1)
    assert crashed.last_error == "ConnectionError: S3 is unreachable"
    assert [(v.version, v.status) for v in store.list_versions("iris")] == [(1, "pending")]

    training_stack.upload("training/iris/other.csv", iris_csv() + b"\n")
    assert run_handler(training_stack.receive_event()) == {"batchItemFailures": []}
    assert run_handler(event) == {"batchItemFailures": []}

    finished = store.get_run("iris", crashed.run_id)
    assert finished is not None
    assert (finished.status, finished.version, finished.notified) == ("registered", 1, True)
    versions = {v.version: (v.status, v.run_id) for v in store.list_versions("iris")}
    assert versions[1] == ("registered", crashed.run_id)
    assert versions[2][0] == "registered" and versions[2][1] != crashed.run_id
    assert sorted(versions) == [1, 2]


def test_second_delivery_of_a_finished_run_is_a_duplicate_and_changes_nothing(
    training_stack: TrainingStack,
) -> None:
    events = RegistryEventQueue()
    store = _store(training_stack)
    training_stack.upload("training/iris/dup.csv", iris_csv())
    event = training_stack.receive_event()
    assert run_handler(event) == {"batchItemFailures": []}
    [delivered] = objects_in_message(event["Records"][0]["body"])
    source = resolve_version(delivered, client("s3"))  # the identity the handler claims
    before = store.get_run("iris", run_id_for(source))
    assert before is not None and (before.status, before.notified) == ("registered", True)
    assert [kind for kind, _ in events.drain()] == ["ModelRegistered"]

    outcome = process_training_object(delivered, dependencies())

    assert (outcome.status, outcome.model, outcome.version) == ("duplicate", "iris", None)
    assert store.get_run("iris", before.run_id) == before
    assert [(v.version, v.status) for v in store.list_versions("iris")] == [(1, "registered")]
    assert events.drain() == []
    assert training_stack.alerts() == []


@pytest.mark.parametrize("key", ["elsewhere/iris/a.csv", "training/a.csv"])
def test_an_object_outside_training_model_is_ignored_with_a_warning(
    training_stack: TrainingStack, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    source = SourceObject(bucket=training_stack.data_bucket, key=key, etag="e")
    with caplog.at_level(logging.INFO, logger="mlops.training.run"):
        outcome = process_training_object(source, dependencies())

    assert outcome == RunOutcome("ignored", model="", reason="key outside training/<model>/")
    assert [r.getMessage() for r in caplog.records] == [
        f"ignoring {key}: not under training/<model>/"
    ]
    assert _store(training_stack).list_models() == []


def test_a_duplicate_delivery_is_logged_with_its_object(
    training_stack: TrainingStack, caplog: pytest.LogCaptureFixture
) -> None:
    training_stack.upload("training/iris/bad.csv", broken_iris_csv())
    event = training_stack.receive_event()
    [source] = objects_in_message(event["Records"][0]["body"])
    process_training_object(source, dependencies())

    with caplog.at_level(logging.INFO, logger="mlops.training.run"):
        assert process_training_object(source, dependencies()) == RunOutcome(
            "duplicate", model="iris"
        )

    assert [r.getMessage() for r in caplog.records] == [
        f"duplicate delivery of s3://{source.bucket}/training/iris/bad.csv: already processed"
    ]


def test_a_failed_run_reports_every_reason_in_its_outcome(training_stack: TrainingStack) -> None:
    training_stack.upload("training/iris/bad.csv", broken_iris_csv())
    event = training_stack.receive_event()
    [source] = objects_in_message(event["Records"][0]["body"])

    outcome = process_training_object(source, dependencies())

    [run] = _store(training_stack).list_runs("iris")
    assert len(run.problems) == 3
    assert outcome == RunOutcome(
        "failed",
        model="iris",
        run_id=run.run_id,
        reason="; ".join(problem.message for problem in run.problems),
    )


def _attributes(alert: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in alert["MessageAttributes"].items()}


def test_a_failed_run_is_announced_in_full(training_stack: TrainingStack) -> None:
    """The alert a person reads and the TrainingFailed event a machine reads, word for word:
    what failed, where the file is, and every reason with its code."""
    events = RegistryEventQueue()
    training_stack.upload("training/iris/bad.csv", broken_iris_csv())
    assert run_handler(training_stack.receive_event()) == {"batchItemFailures": []}
    [run] = _store(training_stack).list_runs("iris")
    reasons = "\n".join(f"- [{p.code}] {p.message}" for p in run.problems)

    [alert] = training_stack.alerts()
    assert alert["Subject"] == "[mlops] training failed for iris"
    assert alert["Message"] == (
        f"Training run {run.run_id} for model iris failed; no version was created and serving "
        f"is unchanged.\nFile: s3://{training_stack.data_bucket}/training/iris/bad.csv\n"
        f"Reasons:\n{reasons}"
    )
    assert _attributes(alert) == {"model": "iris", "kind": "training_failed"}
    assert events.drain() == [
        (
            "TrainingFailed",
            {
                "model": "iris",
                "run_id": run.run_id,
                "problems": [problem.model_dump() for problem in run.problems],
            },
        )
    ]
