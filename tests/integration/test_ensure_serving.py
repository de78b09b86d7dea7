"""Alias `live` is created and moved by our code, idempotently (DESIGN §7)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.clients import client
from mlops.examples import iris_csv
from mlops.local.provision import ensure_predict_function
from mlops.registry import RegistryStore, VersionNotFoundError
from mlops.registry.artifacts import ArtifactStore
from mlops.rollout import PromotionError, ensure_serving, promote
from serving_setup.handler import handler as setup_handler
from tests.integration.conftest import TrainingStack, lambda_context, train_and_promote

CONTEXT = lambda_context()


def _artifacts(training_stack: TrainingStack) -> ArtifactStore:
    return ArtifactStore(client("s3"), training_stack.resources.names.model_bucket)


def _live(function_name: str) -> tuple[str, dict[str, str]]:
    lambda_client = client("lambda")
    alias = lambda_client.get_alias(FunctionName=function_name, Name="live")
    configuration = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier=alias["FunctionVersion"]
    )
    return alias["FunctionVersion"], configuration["Environment"]["Variables"]


@pytest.fixture
def predict_function(training_stack: TrainingStack) -> str:
    return ensure_predict_function(
        client("lambda"), client("iam"), training_stack.resources.names, "iris"
    )


def _custom_resource_event(request_type: str, function_name: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {"FunctionName": function_name, "ModelName": "iris"},
        "PhysicalResourceId": f"{function_name}:live",
    }


def test_deploy_creates_live_serving_version_zero_and_update_is_a_no_op(
    training_stack: TrainingStack, predict_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_TABLE", training_stack.resources.names.registry_table)
    created = setup_handler(_custom_resource_event("Create", predict_function), CONTEXT)
    version, variables = _live(predict_function)
    assert variables["MODEL_VERSION"] == "0"
    assert created["Data"] == {"FunctionVersion": version, "ModelVersion": "0"}

    train_and_promote(training_stack, "iris", iris_csv())  # production pointer -> v1
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    ensure_serving(client("lambda"), store, predict_function, "iris")
    moved_version, moved_variables = _live(predict_function)
    assert moved_variables["MODEL_VERSION"] == "1"

    # A later `cdk deploy` sends Update: the alias belongs to the rollout code, nothing moves.
    updated = setup_handler(_custom_resource_event("Update", predict_function), CONTEXT)
    assert updated["PhysicalResourceId"] == f"{predict_function}:live"
    assert _live(predict_function)[0] == moved_version


def test_ensure_serving_is_idempotent(training_stack: TrainingStack, predict_function: str) -> None:
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    first = ensure_serving(client("lambda"), store, predict_function, "iris")
    second = ensure_serving(client("lambda"), store, predict_function, "iris")
    assert first.changed and not second.changed
    assert first.function_version == second.function_version


def test_promote_moves_production_and_archives_the_previous(
    training_stack: TrainingStack, predict_function: str
) -> None:
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    train_and_promote(training_stack, "iris", iris_csv())
    training_stack.upload("training/iris/second.csv", iris_csv() + b"\n")
    from train.handler import handler

    handler(training_stack.receive_event(), lambda_context())
    assert store.get_version("iris", 2).status == "registered"

    state = promote(
        store, client("lambda"), predict_function, "iris", 2, artifacts=_artifacts(training_stack)
    )
    assert state.model_version == 2
    assert _live(predict_function)[1]["MODEL_VERSION"] == "2"
    assert store.get_pointers("iris").production == 2
    assert store.get_version("iris", 1).status == "archived"


def test_only_registered_versions_can_be_promoted(
    training_stack: TrainingStack, predict_function: str
) -> None:
    from mlops.registry.store import _model_pk, _to_item, _version_sk

    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    with pytest.raises(VersionNotFoundError, match="iris has no version 1"):
        promote(
            store,
            client("lambda"),
            predict_function,
            "iris",
            1,
            artifacts=_artifacts(training_stack),
        )

    train_and_promote(training_stack, "iris", iris_csv())
    rejected = store.get_version("iris", 1).model_copy(update={"status": "rejected"})
    client("dynamodb").put_item(
        TableName=training_stack.resources.names.registry_table,
        Item=_to_item(
            {
                "pk": _model_pk("iris"),
                "sk": _version_sk(1),
                "kind": "version",
                **rejected.model_dump(mode="json"),
            }
        ),
    )
    with pytest.raises(PromotionError, match="v1 is rejected"):
        promote(
            store,
            client("lambda"),
            predict_function,
            "iris",
            1,
            artifacts=_artifacts(training_stack),
        )


@pytest.mark.parametrize("damage", ["sha256", "not_onnx"])
def test_a_version_that_cannot_be_served_is_not_promoted_and_nothing_moves(
    training_stack: TrainingStack, predict_function: str, damage: str
) -> None:
    from mlops.registry.store import _model_pk, _to_item, _version_sk

    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    train_and_promote(training_stack, "iris", iris_csv())
    ensure_serving(client("lambda"), store, predict_function, "iris")
    training_stack.upload("training/iris/second.csv", iris_csv() + b"\n")
    from train.handler import handler

    handler(training_stack.receive_event(), lambda_context())
    record = store.get_version("iris", 2)
    artifacts = dict(record.artifacts)
    if damage == "sha256":  # the registry and the bytes disagree
        artifacts["model.onnx"] = artifacts["model.onnx"].model_copy(update={"sha256": "0" * 64})
    else:  # the bytes check out but are no model: the card, recorded as the artifact
        artifacts["model.onnx"] = artifacts["card.md"]
    damaged = record.model_copy(update={"artifacts": artifacts})
    client("dynamodb").put_item(
        TableName=training_stack.resources.names.registry_table,
        Item=_to_item(
            {
                "pk": _model_pk("iris"),
                "sk": _version_sk(2),
                "kind": "version",
                **damaged.model_dump(mode="json"),
            }
        ),
    )
    before = _live(predict_function)

    with pytest.raises(PromotionError, match="v2 cannot be served"):
        promote(
            store,
            client("lambda"),
            predict_function,
            "iris",
            2,
            artifacts=_artifacts(training_stack),
        )

    assert store.get_pointers("iris").production == 1
    assert _live(predict_function) == before
