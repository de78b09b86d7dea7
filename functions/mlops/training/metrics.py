"""Held-out metrics, computed the same way for the candidate and the production model."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def classification_metrics(
    y_true: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    """accuracy, macro F1, ROC AUC (one-vs-rest macro for multiclass) and log loss."""
    # onnxruntime returns float32 probabilities whose rows sum to 1 only within ~1e-7.
    probabilities = np.clip(probabilities, 1e-15, 1)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    result = {
        "accuracy": float(skm.accuracy_score(y_true, labels)),
        "f1_macro": float(skm.f1_score(y_true, labels, average="macro")),
        "log_loss": float(skm.log_loss(y_true, probabilities, labels=classes)),
    }
    if len(np.unique(y_true)) < 2:
        result["roc_auc"] = math.nan
    elif len(classes) == 2:
        result["roc_auc"] = float(skm.roc_auc_score(y_true == classes[1], probabilities[:, 1]))
    else:
        result["roc_auc"] = float(
            skm.roc_auc_score(
                y_true, probabilities, multi_class="ovr", average="macro", labels=classes
            )
        )
    return result


def regression_metrics(y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2."""
    return {
        "rmse": float(math.sqrt(skm.mean_squared_error(y_true, predictions))),
        "mae": float(skm.mean_absolute_error(y_true, predictions)),
        "r2": float(skm.r2_score(y_true, predictions)),
    }
