"""The CLI finds a deployed stack through its CloudFormation outputs (moto stands in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.cli.target import TargetError, resolve_target
from mlops.clients import client


def _deploy_outputs_stack(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    client("cloudformation").create_stack(StackName="Mlops", TemplateBody=json.dumps(template))


def test_deployed_stack_is_read_from_outputs(moto_aws: None) -> None:
    key = client("apigateway").create_api_key(
        name="mlops", enabled=True, value="secret-key-0123456789abcdef"
    )
    _deploy_outputs_stack(
        {
            "DataBucketName": "data-b",
            "ModelBucketName": "model-b",
            "RegistryTableName": "reg",
            "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/prod/",
            "ApiKeyId": key["id"],
            "PredictFunctionIris": "mlops-predict-iris",
            "PredictFunctionChurnv2": "mlops-predict-churn-v2",
        }
    )
    target = resolve_target("Mlops")
    assert (target.kind, target.data_bucket, target.registry_table) == ("aws", "data-b", "reg")
    assert target.api_url == "https://abc.execute-api.us-east-1.amazonaws.com/prod"
    assert target.api_key == "secret-key-0123456789abcdef"
    assert target.predict_function("churn-v2") == "mlops-predict-churn-v2"
    with pytest.raises(TargetError, match="no predict function for 'ghost'"):
        target.predict_function("ghost")


def test_no_local_stack_and_no_stack_is_a_clear_error(
    moto_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    with pytest.raises(TargetError, match="start `mlops local`"):
        resolve_target(None)


def test_local_state_is_found_from_a_subfolder_and_a_dead_stack_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from mlops.clients import reset_clients
    from mlops.local.stack import LocalState

    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    # resolve_target points this process at the local endpoint; let monkeypatch restore it.
    for key in (
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.setenv(key, "restored-after-the-test")
    import socket

    listening = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    moto_url, api_url = (f"http://127.0.0.1:{s.getsockname()[1]}" for s in listening)
    state = LocalState(moto_url, api_url, "key", "us-east-1", "mlops", os.getpid())
    state.save(tmp_path / ".mlops")
    nested = tmp_path / "data" / "deeper"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert resolve_target(None).api_key == "key"

    for server in listening:  # the pid lives on, the ports are dead: a stale file
        server.close()
    with pytest.raises(TargetError, match="does not answer"):
        resolve_target(None)

    LocalState(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "key", "us-east-1", "mlops", 2**22 + 12345
    ).save(tmp_path / ".mlops")
    with pytest.raises(TargetError, match="no longer running"):
        resolve_target(None)
    reset_clients()
