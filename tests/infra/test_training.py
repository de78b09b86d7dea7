"""Training wiring: which uploads trigger training, how the queue retries, what train may touch."""

from __future__ import annotations

from typing import Any

from infra.training import VISIBILITY_TIMEOUT
from mlops.resources import TRAINING_PREFIX
from tests.infra.conftest import Synthesized

# Services whose resources hold or route our data: never `*` actions or `Resource: "*"` there.
DATA_SERVICES = ("s3", "dynamodb", "sns", "sqs", "kms", "events", "lambda", "firehose")


def _train(synthesized: Synthesized) -> Any:
    return synthesized.stack.node.find_child("Training")


def _train_function(synthesized: Synthesized) -> dict[str, Any]:
    function_id = synthesized.logical_id(_train(synthesized).function)
    resource: dict[str, Any] = synthesized.json["Resources"][function_id]
    return resource


def _statements_of_role(synthesized: Synthesized, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_csv_uploads_under_training_prefix_notify_the_training_queue(synthesized: Synthesized):
    storage = synthesized.stack.node.find_child("Storage")
    data_bucket = synthesized.logical_id(storage.data_bucket)  # type: ignore[attr-defined]
    queue = synthesized.logical_id(_train(synthesized).queue)
    (notifications,) = synthesized.resources("Custom::S3BucketNotifications").values()
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": data_bucket}
    (config,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["QueueArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    rules = {rule["Name"]: rule["Value"] for rule in config["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": TRAINING_PREFIX, "suffix": ".csv"}


def test_training_queue_sends_a_thrice_failed_message_to_the_dlq(synthesized: Synthesized):
    training = _train(synthesized)
    dlq = synthesized.logical_id(training.dead_letter_queue)
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "mlops-dev-training",
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": VISIBILITY_TIMEOUT.to_seconds(),
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                "maxReceiveCount": 3,
            },
        },
    )
    assert VISIBILITY_TIMEOUT.to_seconds() == 6 * 15 * 60


def test_dlq_is_encrypted_and_keeps_messages_fourteen_days(synthesized: Synthesized):
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "mlops-dev-training-dlq",
            "SqsManagedSseEnabled": True,
            "MessageRetentionPeriod": 14 * 24 * 3600,
        },
    )


def test_both_queues_deny_requests_without_tls(synthesized: Synthesized):
    denied: set[str] = set()
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                denied.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert denied == set(synthesized.resources("AWS::SQS::Queue"))


def test_train_function_is_an_arm64_image_with_its_configuration(synthesized: Synthesized):
    props = _train_function(synthesized)["Properties"]
    assert props["PackageType"] == "Image"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 3008
    assert props["Timeout"] == 900
    # Reserved concurrency throttles the SQS poller's batches into the DLQ and fails the deploy
    # on accounts with a concurrency quota of 10; the event source caps concurrency instead.
    assert "ReservedConcurrentExecutions" not in props
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["FunctionName"] == "mlops-dev-train"
    env = props["Environment"]["Variables"]
    assert {key: env[key] for key in ("EVENT_BUS_NAME", "MAX_TRAINING_FILE_MB")} == {
        "EVENT_BUS_NAME": "default",
        "MAX_TRAINING_FILE_MB": "150",
    }
    assert env["CODE_VERSION"] == "dev"
    assert env["RUN_LEASE_SECONDS"] == "1000"
    assert env["POWERTOOLS_SERVICE_NAME"] == "train"
    assert set(env) >= {"MODEL_BUCKET", "REGISTRY_TABLE", "ALERTS_TOPIC_ARN"}
    assert env["ALERTS_TOPIC_ARN"] == {"Ref": next(iter(synthesized.resources("AWS::SNS::Topic")))}


def test_train_function_logs_to_its_own_group_with_retention(synthesized: Synthesized):
    props = _train_function(synthesized)["Properties"]
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = synthesized.json["Resources"][log_group_id]["Properties"]
    assert log_group["LogGroupName"] == "/aws/lambda/mlops-dev-train"
    assert log_group["RetentionInDays"] == 7  # dev's (tests/infra/test_stages.py)


def test_train_consumes_one_message_at_a_time_and_reports_item_failures(
    synthesized: Synthesized,
):
    training = _train(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": synthesized.logical_id(training.function)},
            "EventSourceArn": {"Fn::GetAtt": [synthesized.logical_id(training.queue), "Arn"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_train_policy_has_no_service_wildcards_and_no_star_resource_on_data(
    synthesized: Synthesized,
):
    role_id = synthesized.logical_id(_train(synthesized).function.role)
    statements = _statements_of_role(synthesized, role_id)
    assert statements
    for statement in statements:
        actions = _as_list(statement["Action"])
        assert "*" not in actions
        assert not [a for a in actions if a.endswith(":*")], actions
        touches_data = any(a.split(":")[0] in DATA_SERVICES for a in actions)
        if touches_data:
            assert "*" not in _as_list(statement["Resource"]), statement


def test_train_reads_only_the_training_prefix_and_writes_only_the_models_prefix(
    synthesized: Synthesized,
):
    role_id = synthesized.logical_id(_train(synthesized).function.role)
    by_sid = {s.get("Sid"): s for s in _statements_of_role(synthesized, role_id)}
    read = by_sid["ReadTrainingFiles"]
    assert sorted(read["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Resource"]["Fn::Join"][1][-1] == "/training/*"
    write = by_sid["ReadWriteModelArtifacts"]
    assert "s3:PutObject" in write["Action"]
    assert write["Resource"]["Fn::Join"][1][-1] == "/models/*"
    assert by_sid["PutRegistryEvents"]["Action"] == "events:PutEvents"
    assert by_sid["PublishAlerts"]["Action"] == "sns:Publish"
    assert sorted(by_sid["EncryptAlerts"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_train_image_context_holds_only_what_the_dockerfile_copies(synthesized: Synthesized):
    (image,) = synthesized.asset_manifest()["dockerImages"].values()
    source = image["source"]
    assert source["dockerFile"] == "functions/train/Dockerfile"
    assert source["platform"] == "linux/arm64"
    context = synthesized.outdir / source["directory"]
    top_level = {path.name for path in context.iterdir()}
    assert top_level <= {"constraints.txt", "pyproject.toml", "README.md", "functions", "models"}
    assert (context / "functions" / "train" / "Dockerfile").is_file()
    assert not list(context.rglob("__pycache__"))


def test_train_image_base_is_pinned_by_digest():
    """A tag moves: the same commit could deploy another Python or OS patch level unnoticed."""
    from infra.bundling import REPO_ROOT

    dockerfile = (REPO_ROOT / "functions" / "train" / "Dockerfile").read_text()
    bases = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert bases, "the Dockerfile has a FROM line"
    for base in bases:
        image, _, digest = base.partition("@sha256:")
        assert image == "public.ecr.aws/lambda/python:3.12", base
        assert len(digest) == 64 and int(digest, 16) >= 0, base
