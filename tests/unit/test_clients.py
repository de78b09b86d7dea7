"""Clients parse botocore's data files with orjson and get the same models botocore would."""

from __future__ import annotations

import botocore.session
import pytest

from mlops.clients import OrjsonFileLoader, _session, client, reset_clients


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    reset_clients()


@pytest.mark.parametrize("service", ["s3", "dynamodb", "sns", "lambda"])
def test_service_data_matches_botocores_own_loader(service: str) -> None:
    ours = _session().get_component("data_loader")
    assert isinstance(ours.file_loader, OrjsonFileLoader)
    theirs = botocore.session.Session().get_component("data_loader")
    for type_name in ("service-2", "endpoint-rule-set-1"):
        assert ours.load_service_model(service, type_name) == theirs.load_service_model(
            service, type_name
        )
    assert ours.load_data("endpoints") == theirs.load_data("endpoints")


def test_clients_are_cached_and_use_the_fast_loader() -> None:
    s3 = client("s3")
    assert client("s3") is s3
    assert isinstance(_session().get_component("data_loader").file_loader, OrjsonFileLoader)
    assert s3.meta.service_model is not None  # built through that loader
    assert "GetObject" in s3.meta.service_model.operation_names
    assert s3.meta.config.retries["mode"] == "standard"
