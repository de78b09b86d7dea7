"""Champion/challenger decisions."""

from __future__ import annotations

import math

from mlops.spec import ModelSpec
from mlops.training.gate import decide


def _spec(metric: str, task: str, threshold: float, margin: float) -> ModelSpec:
    estimator = "logistic_regression" if task == "classification" else "ridge"
    return ModelSpec.model_validate(
        {
            "name": "m",
            "task": task,
            "target": "y",
            "features": [{"name": "x", "type": "numeric"}],
            "estimator": {"name": estimator},
            "quality_gate": {"metric": metric, "threshold": threshold, "max_regression": margin},
        }
    )


def test_first_model_needs_only_the_floor() -> None:
    spec = _spec("accuracy", "classification", 0.8, 0.01)
    assert decide(spec, {"accuracy": 0.81}, None, None).registered
    below = decide(spec, {"accuracy": 0.79}, None, None)
    assert not below.registered and "below the floor 0.8" in below.reason


def test_candidate_may_lose_at_most_the_margin() -> None:
    spec = _spec("accuracy", "classification", 0.5, 0.02)
    assert decide(spec, {"accuracy": 0.89}, {"accuracy": 0.90}, 3).registered
    lost = decide(spec, {"accuracy": 0.85}, {"accuracy": 0.90}, 3)
    assert not lost.registered
    assert lost.comparison["production_version"] == 3
    assert "loses to production v3" in lost.reason


def test_error_metrics_are_lower_is_better() -> None:
    spec = _spec("rmse", "regression", 10.0, 0.5)
    assert not decide(spec, {"rmse": 11.0}, None, None).registered
    assert decide(spec, {"rmse": 5.4}, {"rmse": 5.0}, 1).registered
    assert not decide(spec, {"rmse": 5.6}, {"rmse": 5.0}, 1).registered


def test_undefined_metric_is_rejected() -> None:
    spec = _spec("roc_auc", "classification", 0.5, 0.0)
    assert not decide(spec, {"roc_auc": math.nan}, None, None).registered


# -- the decision recorded with every version: exact contents and the boundaries -------------
def _comparison(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "metric": "accuracy",
        "candidate": 0.9,
        "threshold": 0.8,
        "max_regression": 0.25,
        "higher_is_better": True,
        "production_version": None,
        "production": None,
    }
    return {**base, **changes}


def test_first_model_registered_records_the_full_comparison() -> None:
    decision = decide(_spec("accuracy", "classification", 0.8, 0.25), {"accuracy": 0.9}, None, None)
    reason = "accuracy 0.9000 meets 0.8; no production model to compare with"
    assert (decision.registered, decision.status, decision.reason) == (True, "registered", reason)
    assert decision.comparison == _comparison(decision="registered", reason=reason)


def test_candidate_exactly_on_the_floor_or_ceiling_is_registered() -> None:
    on_floor = decide(_spec("accuracy", "classification", 0.8, 0.0), {"accuracy": 0.8}, None, None)
    assert on_floor.registered
    assert decide(_spec("rmse", "regression", 10.0, 0.0), {"rmse": 10.0}, None, None).registered


def test_below_the_floor_is_rejected_with_the_reason_recorded() -> None:
    decision = decide(
        _spec("accuracy", "classification", 0.8, 0.25), {"accuracy": 0.75}, {"accuracy": 0.9}, 4
    )
    reason = "accuracy 0.7500 is below the floor 0.8"
    assert (decision.registered, decision.status, decision.reason) == (False, "rejected", reason)
    assert decision.comparison == _comparison(
        candidate=0.75, production_version=4, production=0.9, decision="rejected", reason=reason
    )


def test_above_the_ceiling_of_an_error_metric_is_rejected() -> None:
    decision = decide(_spec("rmse", "regression", 10.0, 0.5), {"rmse": 10.5}, None, None)
    assert decision.registered is False
    assert decision.reason == "rmse 10.5000 is above the ceiling 10.0"
    assert decision.comparison["higher_is_better"] is False
    assert decision.comparison["decision"] == "rejected"


def test_undefined_metric_is_rejected_with_the_reason_recorded() -> None:
    decision = decide(
        _spec("roc_auc", "classification", 0.5, 0.0), {"roc_auc": math.nan}, None, None
    )
    assert decision.registered is False
    assert decision.reason == "roc_auc is undefined on the held-out split"
    assert decision.comparison["decision"] == "rejected"
    assert decision.comparison["reason"] == decision.reason


def test_losing_by_exactly_the_margin_is_registered_and_one_step_more_is_not() -> None:
    spec = _spec("accuracy", "classification", 0.0, 0.25)
    # 0.75 -> 0.5 is exactly 0.25 in binary floating point: the margin itself is allowed.
    within = decide(spec, {"accuracy": 0.5}, {"accuracy": 0.75}, 2)
    reason = "accuracy 0.5000 meets 0.0 and is within 0.25 of production v2 (0.7500)"
    assert (within.registered, within.reason) == (True, reason)
    assert within.comparison == _comparison(
        candidate=0.5,
        threshold=0.0,
        production_version=2,
        production=0.75,
        decision="registered",
        reason=reason,
    )
    # The 1e-12 slack absorbs float noise only: a loss of exactly margin + 1e-12 is allowed,
    # anything beyond it is not.
    slack = 0.25 + 1e-12
    assert decide(spec, {"accuracy": 0.0}, {"accuracy": slack}, 2).registered
    beyond = decide(spec, {"accuracy": 0.0}, {"accuracy": slack + 1e-9}, 2)
    assert beyond.registered is False
    assert beyond.reason == (
        "accuracy 0.0000 loses to production v2 (0.2500) by 0.2500, more than the allowed 0.25"
    )
    assert beyond.comparison["decision"] == "rejected"


def test_error_metric_may_be_worse_than_production_by_the_margin_only() -> None:
    spec = _spec("mae", "regression", 100.0, 0.5)
    assert decide(spec, {"mae": 5.5}, {"mae": 5.0}, 1).registered
    worse = decide(spec, {"mae": 5.75}, {"mae": 5.0}, 1)
    assert worse.registered is False and "loses to production v1 (5.0000) by 0.7500" in worse.reason
