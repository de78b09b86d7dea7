"""Every estimator on the allow-list trains, converts to ONNX and passes parity."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.dataset import TrainingData
from mlops.spec import ESTIMATORS, ModelSpec
from mlops.training.trainer import fit_candidate


def _spec(estimator: str, task: str) -> ModelSpec:
    metric = "f1_macro" if task == "classification" else "r2"
    return ModelSpec.model_validate(
        {
            "name": "probe",
            "task": task,
            "target": "y",
            "features": [
                {"name": "a b (cm)", "type": "numeric"},
                {"name": "c[0]", "type": "numeric", "min": -10, "max": 10},
                {"name": "colour", "type": "categorical", "categories": ["red", "green", "blue"]},
            ],
            "estimator": {"name": estimator, "params": {}},
            "quality_gate": {"metric": metric, "threshold": 0.0},
        }
    )


def _data(task: str) -> TrainingData:
    rng = np.random.default_rng(3)
    rows = 400
    numeric = rng.normal(size=(rows, 2))
    numeric[rng.integers(0, rows, 10), 0] = np.nan  # imputed by the pipeline
    colour = rng.choice(["red", "green", "blue"], size=(rows, 1)).astype(object)
    signal = np.nan_to_num(numeric[:, 0]) + 0.5 * numeric[:, 1] + (colour[:, 0] == "red")
    if task == "classification":
        target = np.where(signal > 0.8, "high", np.where(signal > -0.2, "mid", "low"))
        target = target.astype(object)
    else:
        target = 3 * signal + rng.normal(scale=0.1, size=rows)
    return TrainingData(numeric=numeric, categorical=colour, target=target, missing_counts={})


@pytest.mark.parametrize("key", sorted(ESTIMATORS))
def test_allow_listed_estimator_trains_converts_and_passes_parity(key: str) -> None:
    task = ESTIMATORS[key].task
    candidate = fit_candidate(_spec(key, task), _data(task))
    assert candidate.parity.max_abs_difference <= candidate.parity.tolerance
    assert candidate.parity.rows == 80
    if task == "classification":
        assert candidate.parity.label_agreement == 1.0
        assert candidate.metrics["accuracy"] > 0.6
        assert sorted(candidate.classes) == ["high", "low", "mid"]
    else:
        assert candidate.metrics["r2"] > 0.5
    assert candidate.model.metadata.numeric_features == ["a b (cm)", "c[0]"]
    assert candidate.model.metadata.categorical_features == ["colour"]


def test_integer_labels_stay_integers() -> None:
    data = _data("classification")
    labels = np.array([{"high": "2", "mid": "1", "low": "0"}[v] for v in data.target], dtype=object)
    candidate = fit_candidate(
        _spec("logistic_regression", "classification"),
        TrainingData(data.numeric, data.categorical, labels, {}),
    )
    assert candidate.classes == [0, 1, 2]
    prediction = candidate.model.predict(
        candidate.held_out.numeric.astype(np.float32), candidate.held_out.categorical
    )
    assert prediction.outputs.dtype == np.int64
