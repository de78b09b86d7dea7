"""Outcome metrics: the EMF document Powertools would print, and what each decision counts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mlops.drift.run import check_metrics
from mlops.outcome_metrics import OUTCOME_METRICS, OutcomeMetrics, subscribe_log_lines
from mlops.registry import Transition
from mlops.rollout.outcomes import transition_metrics
from mlops.training.run import run_metrics


def test_outcome_document_matches_powertools_serialisation() -> None:
    values = {"rollbacks": 1.0, "shadow_divergence": 0.0125}
    powertools = Metrics(namespace="ServerlessMlops", service="rollout")
    try:
        powertools.add_dimension(name="model", value="iris")
        for name, value in values.items():
            unit = OUTCOME_METRICS["rollout"][name]
            powertools.add_metric(name=name, unit=MetricUnit(unit), value=value)
        powertools.set_timestamp(1_795_000_000_123)
        expected = powertools.serialize_metric_set()
    finally:
        powertools.clear_metrics()
    ours = OutcomeMetrics("rollout").document("iris", values, now=1_795_000_000.123)
    assert ours == expected


def test_a_name_the_service_does_not_declare_is_refused() -> None:
    with pytest.raises(ValueError, match="training_faild"):
        OutcomeMetrics("train").document("iris", {"training_faild": 1})
    with pytest.raises(ValueError, match="serving"):
        OutcomeMetrics("serving")


def test_record_writes_one_line_to_stdout_and_subscribers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    received: list[str] = []
    unsubscribe = subscribe_log_lines(received.append)
    try:
        OutcomeMetrics("train").record("iris", run_metrics("failed"))
    finally:
        unsubscribe()
    OutcomeMetrics("train").record("iris", run_metrics("failed"))  # after: stdout only
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and len(received) == 1
    document: dict[str, Any] = json.loads(received[0])
    assert (document["model"], document["service"]) == ("iris", "train")
    assert document["training_failed"] == [1.0] and document["training_succeeded"] == [0.0]


def test_disabled_metrics_write_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    OutcomeMetrics("drift").record("iris", check_metrics("drift", None))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("status", "counted"),
    [
        ("registered", "training_succeeded"),
        ("rejected", "training_rejected"),
        ("failed", "training_failed"),
    ],
)
def test_a_finished_run_counts_once_under_its_outcome(status: str, counted: str) -> None:
    values = run_metrics(status)
    assert values["training_runs"] == 1
    assert {name for name, value in values.items() if value and name != "training_runs"} == {
        counted
    }


def test_drift_checks_count_verdicts_and_inconclusive_ones_write_no_verdict() -> None:
    assert check_metrics("drift", "degraded") == {
        "drift_checks": 1,
        "drift_detected": 1,
        "quality_degraded": 1,
    }
    assert check_metrics("no_drift", "ok") == {
        "drift_checks": 1,
        "drift_detected": 0,
        "quality_degraded": 0,
    }
    assert check_metrics("insufficient_data", "not_computed") == {"drift_checks": 1}


def transition(what: str, evidence: dict[str, Any] | None = None) -> Transition:
    return Transition(
        model="iris",
        revision=3,
        what=what,
        version=2,
        at="2026-12-01T00:00:00Z",
        reason="test",
        evidence=evidence or {},
    )


@pytest.mark.parametrize(
    ("what", "counted"),
    [
        ("rolled_back", "rollbacks"),
        ("code_rolled_back", "rollbacks"),
        ("promoted", "promotions"),
        ("code_promoted", "promotions"),
        ("canary_started", "canary_starts"),
    ],
)
def test_rollout_transitions_count_what_they_did(what: str, counted: str) -> None:
    assert transition_metrics(transition(what)) == {counted: 1}


def test_a_shadow_replay_counts_its_divergence_by_task() -> None:
    flips = {"verdict": "diverged", "flips": {"rate": 0.2}, "shift": None}
    assert transition_metrics(transition("rejected", {"shadow": flips})) == {
        "shadow_replays": 1,
        "shadow_diverged": 1,
        "shadow_divergence": 0.2,
    }
    shift = {"verdict": "within_limits", "flips": None, "shift": {"relative_error": 0.03}}
    assert transition_metrics(transition("canary", {"shadow": shift}))["shadow_divergence"] == 0.03
    too_few = {"verdict": "too_few_inputs", "flips": None, "shift": None}
    assert transition_metrics(transition("canary", {"shadow": too_few})) == {
        "shadow_replays": 1,
        "shadow_diverged": 0,
    }
    # A rejection for a failed load carries no replay: nothing is counted as one.
    assert transition_metrics(transition("rejected", {"shadow": None, "problem": "x"})) == {}
