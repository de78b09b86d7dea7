"""The deploy-time custom resource when a redeploy replaces the predict function.

A changed prefix gives the model a new predict function (a new physical name). CloudFormation
then sends the `live`-alias resource an Update with the new name; a no-op there would leave the
new function without `live`, and the API's permission on `...:live` would fail the deploy.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops.clients import client
from mlops.local.provision import ensure_predict_function
from mlops.resources import ResourceNames
from serving_setup.handler import handler as setup_handler
from tests.integration.conftest import TrainingStack, lambda_context


def _update_event(old_function: str, new_function: str) -> dict[str, Any]:
    return {
        "RequestType": "Update",
        "PhysicalResourceId": f"{old_function}:live",
        "ResourceProperties": {"FunctionName": new_function, "ModelName": "iris"},
        "OldResourceProperties": {"FunctionName": old_function, "ModelName": "iris"},
    }


def test_update_to_a_replaced_function_creates_its_live_alias(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = training_stack.resources.names
    monkeypatch.setenv("REGISTRY_TABLE", names.registry_table)
    lambda_client = client("lambda")
    # The deployed name is the stack's; the replaced one (an older prefix) is gone already.
    old = ResourceNames("old", names.account, names.region).predict_function("iris")
    new = ensure_predict_function(lambda_client, client("iam"), names, "iris")

    response = setup_handler(_update_event(old, new), lambda_context())

    alias = lambda_client.get_alias(FunctionName=new, Name="live")
    pinned = lambda_client.get_function_configuration(
        FunctionName=new, Qualifier=alias["FunctionVersion"]
    )["Environment"]["Variables"]["MODEL_VERSION"]
    assert pinned == "0"
    # A new physical id: CloudFormation's Delete of the old id is the (no-op) clean-up.
    assert response["PhysicalResourceId"] == f"{new}:live"
    assert response["Data"]["FunctionVersion"] == alias["FunctionVersion"]


def test_update_with_the_same_function_leaves_the_alias_alone(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = training_stack.resources.names
    monkeypatch.setenv("REGISTRY_TABLE", names.registry_table)
    function = ensure_predict_function(client("lambda"), client("iam"), names, "iris")

    response = setup_handler(_update_event(function, function), lambda_context())

    assert response == {"PhysicalResourceId": f"{function}:live"}
    with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
        client("lambda").get_alias(FunctionName=function, Name="live")
