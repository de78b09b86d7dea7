"""The rollout function's two deliveries (events/): a registry event names its model, the
schedule reconciles every declared model."""

from __future__ import annotations

from rollout.handler import models_in

from tests.conftest import load_event


def test_a_model_registered_event_names_its_model() -> None:
    (record,) = load_event("sqs_rollout_model_registered")["Records"]
    assert models_in(record["body"]) == ["iris"]


def test_a_scheduled_event_reconciles_every_model() -> None:
    (record,) = load_event("sqs_rollout_schedule")["Records"]
    assert models_in(record["body"]) is None
