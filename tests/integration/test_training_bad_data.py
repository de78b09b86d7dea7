"""Every kind of bad training file: the run fails with its reason recorded, an alert goes out,
no version is created and serving is untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from mlops.clients import client
from mlops.examples import diabetes_csv, iris_csv
from mlops.registry import RegistryStore
from tests.integration.conftest import TrainingStack
from tests.integration.test_training_flow import run_handler
from train import handler as train_handler


def _iris_lines() -> list[str]:
    return iris_csv().decode().splitlines()


def _join(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _replace_cell(lines: list[str], line_index: int, column: int, value: str) -> list[str]:
    cells = lines[line_index].split(",")
    cells[column] = value
    return [*lines[:line_index], ",".join(cells), *lines[line_index + 1 :]]


def empty() -> bytes:
    return b""


def header_only() -> bytes:
    return _join(_iris_lines()[:1])


def missing_target_column() -> bytes:
    return _join([",".join(line.split(",")[:-1]) for line in _iris_lines()])


def non_numeric() -> bytes:
    return _join(_replace_cell(_iris_lines(), 17, 0, "abc"))


def too_many_missing() -> bytes:
    lines = _iris_lines()
    for index in range(1, 40):
        lines = _replace_cell(lines, index, 2, "")
    return _join(lines)


def infinite() -> bytes:
    return _join(_replace_cell(_iris_lines(), 9, 1, "inf"))


def out_of_bounds() -> bytes:
    return _join(_replace_cell(_iris_lines(), 30, 2, "999"))


def single_class() -> bytes:
    lines = _iris_lines()
    setosa = [line for line in lines[1:] if line.endswith("setosa")]
    return _join([lines[0], *setosa, *setosa])  # 100 rows: enough rows, one class


def too_few_rows() -> bytes:
    lines = _iris_lines()
    return _join([lines[0], *lines[1:11], *lines[51:61], *lines[101:111]][:31])


def missing_label() -> bytes:
    return _join(_replace_cell(_iris_lines(), 12, 4, ""))


def wrong_delimiter() -> bytes:
    return _join([line.replace(",", ";") for line in _iris_lines()])


def wrong_encoding() -> bytes:
    return iris_csv().decode().encode("utf-16")


def ragged_row() -> bytes:
    lines = _iris_lines()
    lines[20] += ",extra"
    return _join(lines)


def unknown_category() -> bytes:
    lines = diabetes_csv().decode().splitlines()
    return _join(_replace_cell(lines, 5, 1, "3"))


CASES: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("iris", "empty_file", empty, "file is empty"),
    ("iris", "no_data_rows", header_only, "header but no data rows"),
    ("iris", "missing_columns", missing_target_column, "missing columns ['species']"),
    ("iris", "non_numeric_value", non_numeric, "'abc' at line 18"),
    ("iris", "too_many_missing", too_many_missing, "column 'petal length (cm)' is missing"),
    ("iris", "infinite_value", infinite, "infinite value"),
    ("iris", "out_of_bounds", out_of_bounds, "outside [0.0, 20.0]"),
    ("iris", "single_class_target", single_class, "single class ('setosa')"),
    ("iris", "too_few_rows", too_few_rows, "file has 30 data rows"),
    ("iris", "missing_target", missing_label, "line 13"),
    ("iris", "wrong_delimiter", wrong_delimiter, "split by ';'"),
    ("iris", "not_utf8", wrong_encoding, "not UTF-8"),
    ("iris", "ragged_rows", ragged_row, "line 21 has 6"),
    ("diabetes", "unknown_category", unknown_category, "'3'"),
]


@pytest.mark.parametrize(
    ("model", "code", "make_file", "fragment"), CASES, ids=[case[1] for case in CASES]
)
def test_bad_file_fails_its_run_with_reason_and_alert(
    training_stack: TrainingStack,
    model: str,
    code: str,
    make_file: Callable[[], bytes],
    fragment: str,
) -> None:
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload(f"training/{model}/bad.csv", make_file())
    result = run_handler(training_stack.receive_event())

    assert result == {"batchItemFailures": []}  # consumed: retrying cannot fix bad data
    [run] = store.list_runs(model)
    assert run.status == "failed"
    assert code in [problem.code for problem in run.problems]
    assert any(fragment in problem.message for problem in run.problems), run.problems
    assert store.list_versions(model) == []
    assert store.get_pointers(model).production is None
    [alert] = training_stack.alerts()
    assert alert["Subject"] == f"[mlops] training failed for {model}"
    assert fragment in alert["Message"]


def test_file_too_large_is_refused_before_download(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_TRAINING_FILE_MB", "0.001")
    train_handler.dependencies.cache_clear()
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/iris/big.csv", iris_csv())
    run_handler(training_stack.receive_event())
    [run] = store.list_runs("iris")
    assert [problem.code for problem in run.problems] == ["file_too_large"]
    assert store.list_versions("iris") == []
    assert "at most 0.001 MB" in training_stack.alerts()[0]["Message"]


def test_bad_file_does_not_touch_the_serving_model(training_stack: TrainingStack) -> None:
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/iris/good.csv", iris_csv())
    run_handler(training_stack.receive_event())
    store.set_production("iris", 1, expected=None)
    training_stack.upload("training/iris/bad.csv", non_numeric())
    run_handler(training_stack.receive_event())
    assert store.get_pointers("iris").production == 1
    assert [v.version for v in store.list_versions("iris")] == [1]
    assert store.get_version("iris", 1).status == "production"


def test_unknown_model_is_recorded_and_alerted(training_stack: TrainingStack) -> None:
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/nosuchmodel/x.csv", iris_csv())
    run_handler(training_stack.receive_event())
    [run] = store.list_runs("nosuchmodel")
    assert run.problems[0].code == "unknown_model"
    assert "nosuchmodel" in training_stack.alerts()[0]["Message"]
    from mlops.spec import default_specs_dir

    assert str(default_specs_dir()) not in run.problems[0].message  # no server paths
    assert "/" not in run.problems[0].message.replace("models/nosuchmodel.toml", "")


def test_alert_lost_to_an_outage_is_sent_on_redelivery(training_stack: TrainingStack) -> None:
    """The run is recorded before it is announced; a redelivered message announces it."""
    sns = client("sns")
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/iris/bad.csv", non_numeric())
    event = training_stack.receive_event()
    sns.delete_topic(TopicArn=training_stack.resources.alerts_topic_arn)

    # The whole (one-message) batch failed: Powertools raises, Lambda reports the error and
    # SQS redelivers the message after its visibility timeout.
    with pytest.raises(BatchProcessingError):
        run_handler(event)
    [run] = store.list_runs("iris")
    assert (run.status, run.notified) == ("failed", False)
    topic = sns.create_topic(Name=training_stack.resources.names.alerts_topic)["TopicArn"]
    outbox_arn = client("sqs").get_queue_attributes(
        QueueUrl=training_stack.resources.outbox_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=outbox_arn)

    second = run_handler(event)

    assert second == {"batchItemFailures": []}
    [alert] = training_stack.alerts()
    assert alert["Subject"] == "[mlops] training failed for iris"
    assert store.list_runs("iris")[0].notified
    run_handler(event)  # a third delivery: already announced, nothing more
    assert training_stack.alerts() == []


def test_a_file_that_kills_the_function_is_recorded_as_failed(
    training_stack: TrainingStack,
) -> None:
    """Two deliveries died mid-run (a timeout or out-of-memory leaves only an expired lease);
    the third records the failure and alerts instead of dying again and going to the DLQ."""
    from mlops.training.run import resolve_version
    from train.handler import objects_in_message

    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/iris/huge.csv", iris_csv())
    event = training_stack.receive_event()
    [delivered] = objects_in_message(event["Records"][0]["body"])
    source = resolve_version(delivered, client("s3"))  # the identity the handler claims
    for _ in range(2):  # each claim's lease is already over: the invocation "died"
        assert store.claim_run("iris", source, lease_seconds=-60) is not None

    assert run_handler(event) == {"batchItemFailures": []}

    [run] = store.list_runs("iris")
    assert run.status == "failed"
    assert [problem.code for problem in run.problems] == ["training_did_not_finish"]
    assert "2 earlier attempt(s)" in run.problems[0].message
    assert store.list_versions("iris") == []
    assert "training failed for iris" in training_stack.alerts()[0]["Subject"]


def test_one_crashed_attempt_is_retried_normally(training_stack: TrainingStack) -> None:
    from mlops.training.run import resolve_version
    from train.handler import objects_in_message

    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload("training/iris/retry.csv", iris_csv())
    event = training_stack.receive_event()
    [delivered] = objects_in_message(event["Records"][0]["body"])
    source = resolve_version(delivered, client("s3"))  # the identity the handler claims
    assert store.claim_run("iris", source, lease_seconds=-60) is not None

    run_handler(event)

    assert store.get_version("iris", 1).status == "registered"
