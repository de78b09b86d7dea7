"""Shared fixtures: sample events, moto with the stack's resources, example data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"

# Property tests draw the same examples on every run, so a red suite is red again on a rerun
# and never flips on a lucky draw; `HYPOTHESIS_PROFILE=explore` searches afresh (new seeds) to
# look for new counter-examples on purpose.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/, resolved from this file, not the working directory."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no endpoint override (moto intercepts in-process)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_aws(aws_credentials: None) -> Iterator[None]:
    from moto import mock_aws

    from mlops.clients import reset_clients

    reset_clients()
    with mock_aws():
        yield
    reset_clients()
