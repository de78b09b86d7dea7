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
