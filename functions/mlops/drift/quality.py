"""Model quality on labelled traffic, with a confidence interval, against the held-out metric.

Feedback arrives for a few requests, so the metric on it is noisy: the decision compares an
interval, not a point. 'degraded' when the whole (1 - alpha) interval is on the worse side of
the version's held-out metric; below `min_samples` labelled rows, 'insufficient_data'.

- accuracy: Wilson score interval on the number of correct predictions (exact enough at any n
  and near 0 or 1, where the normal interval fails).
- f1_macro, mae, rmse, r2: percentile bootstrap (2,000 resamples, seeded: the same inputs give
  the same interval).
- roc_auc, log_loss need class probabilities, which capture does not keep for labelled rows:
  'not_computed', said so in the note, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlops.drift.result import QualityCheck
from mlops.drift.statistics import wilson_interval
from mlops.spec.model import HIGHER_IS_BETTER

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 13


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def _f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    scores = []
    for label in np.unique(np.concatenate([y_true, y_pred])):
        true_positive = np.sum((y_pred == label) & (y_true == label))
        predicted = np.sum(y_pred == label)
        actual = np.sum(y_true == label)
        denominator = predicted + actual
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else 0.0


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "f1_macro": _f1_macro,
    "mae": _mae,
    "rmse": _rmse,
    "r2": _r2,
}
_NUMERIC = {"mae", "rmse", "r2"}


def check_quality(
    metric: str,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    held_out: float,
    alpha: float,
    min_samples: int,
) -> QualityCheck:
    """The metric on labelled rows (`labels[i]` is the truth for `predictions[i]`) vs `held_out`."""
    higher = HIGHER_IS_BETTER[metric]
    n = int(np.asarray(labels).size)
    confidence = 1 - alpha

    def result(**fields: object) -> QualityCheck:
        base: dict[str, object] = {
            "metric": metric,
            "n": n,
            "value": None,
            "interval": None,
            "confidence": confidence,
            "method": "none",
            "held_out": held_out,
            "higher_is_better": higher,
            "verdict": "insufficient_data",
            "note": "",
        }
        base.update(fields)
        return QualityCheck(**base)  # type: ignore[arg-type]

    if metric not in METRICS:
        return result(
            verdict="not_computed",
            note=f"{metric} needs class probabilities, which labelled capture does not keep",
        )
    if n < min_samples:
        return result(note=f"{n} labelled rows; at least min_samples={min_samples} are needed")
    if metric in _NUMERIC:
        y_true = np.asarray(labels, np.float64)
        y_pred = np.asarray(predictions, np.float64)
    else:
        y_true = np.asarray(labels).astype(str)
        y_pred = np.asarray(predictions).astype(str)
    value = METRICS[metric](y_true, y_pred)
    if metric == "accuracy":
        interval = wilson_interval(int(np.sum(y_true == y_pred)), n, confidence)
        method = "wilson"
    else:
        interval = _bootstrap(METRICS[metric], y_true, y_pred, confidence)
        method = "bootstrap"
    worse = interval[1] < held_out if higher else interval[0] > held_out
    return result(
        value=value,
        interval=interval,
        method=method,
        verdict="degraded" if worse else "ok",
    )


def _bootstrap(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    confidence: float,
) -> tuple[float, float]:
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = y_true.size
    values = np.empty(BOOTSTRAP_RESAMPLES)
    for i in range(BOOTSTRAP_RESAMPLES):
        sample = rng.integers(0, n, n)
        values[i] = metric(y_true[sample], y_pred[sample])
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return (float(low), float(high))
