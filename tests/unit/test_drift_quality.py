"""Quality on labelled traffic: an interval against the held-out metric, never a point."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from mlops.drift import check_quality
from mlops.drift.quality import METRICS


def test_accuracy_uses_wilson_and_flags_a_clear_drop() -> None:
    rng = np.random.default_rng(1)
    labels = rng.choice(["a", "b"], 1_000)
    predictions = np.where(rng.random(1_000) < 0.8, labels, np.where(labels == "a", "b", "a"))
    result = check_quality(
        "accuracy", labels, predictions, held_out=0.9, alpha=0.05, min_samples=200
    )
    assert result.method == "wilson"
    assert result.value == pytest.approx(np.mean(labels == predictions))
    assert result.interval is not None and result.interval[1] < 0.9
    assert result.verdict == "degraded"


def test_a_drop_inside_the_interval_is_not_degraded() -> None:
    rng = np.random.default_rng(2)
    labels = rng.choice(["a", "b"], 300)
    predictions = np.where(rng.random(300) < 0.88, labels, np.where(labels == "a", "b", "a"))
    result = check_quality(
        "accuracy", labels, predictions, held_out=0.9, alpha=0.05, min_samples=200
    )
    assert result.interval is not None and result.interval[0] < 0.9 < result.interval[1] + 0.05
    assert result.verdict == "ok"


def test_an_error_metric_is_degraded_when_the_interval_lies_above_held_out() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=800)
    predicted = truth + rng.normal(0, 1.5, 800)
    result = check_quality("rmse", truth, predicted, held_out=1.0, alpha=0.05, min_samples=200)
    assert result.method == "bootstrap"
    assert result.interval is not None and result.interval[0] > 1.0
    assert result.verdict == "degraded"
    again = check_quality("rmse", truth, predicted, held_out=1.0, alpha=0.05, min_samples=200)
    assert again.interval == result.interval  # seeded


def test_few_labels_are_insufficient_data() -> None:
    result = check_quality(
        "accuracy",
        np.array(["a"] * 20),
        np.array(["b"] * 20),
        held_out=0.9,
        alpha=0.05,
        min_samples=200,
    )
    assert result.verdict == "insufficient_data"
    assert result.value is None


def test_metrics_needing_probabilities_say_they_were_not_computed() -> None:
    result = check_quality(
        "roc_auc", np.zeros(500), np.zeros(500), held_out=0.9, alpha=0.05, min_samples=200
    )
    assert result.verdict == "not_computed"
    assert "probabilities" in result.note


@pytest.mark.parametrize("name", sorted(METRICS))
def test_each_metric_equals_scikit_learns(name: str) -> None:
    rng = np.random.default_rng(4)
    if name in {"accuracy", "f1_macro"}:
        truth = rng.choice(["a", "b", "c"], 400)
        predicted = np.where(rng.random(400) < 0.7, truth, rng.choice(["a", "b", "c"], 400))
    else:
        truth = rng.normal(size=400)
        predicted = truth + rng.normal(0, 0.5, 400)
    expected = {
        "accuracy": lambda: metrics.accuracy_score(truth, predicted),
        "f1_macro": lambda: metrics.f1_score(truth, predicted, average="macro"),
        "mae": lambda: metrics.mean_absolute_error(truth, predicted),
        "rmse": lambda: np.sqrt(metrics.mean_squared_error(truth, predicted)),
        "r2": lambda: metrics.r2_score(truth, predicted),
    }[name]()
    assert METRICS[name](truth, predicted) == pytest.approx(expected, rel=1e-12)
