"""Fits a candidate: split, fit, evaluate, convert to ONNX, prove parity, build the baseline.

Pure (no AWS): it takes validated data and a spec and returns everything the registry stores.
The held-out split is kept so the production model can be scored on exactly the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from mlops.dataset import TrainingData
from mlops.inference.session import OnnxModel, Prediction
from mlops.spec import ModelSpec
from mlops.training.baseline import build_baseline
from mlops.training.metrics import classification_metrics, regression_metrics
from mlops.training.onnx_export import ParityReport, check_parity, convert_to_onnx
from mlops.training.pipeline import build_pipeline, model_input


@dataclass(frozen=True)
class HeldOut:
    """The held-out rows, as the models see them."""

    numeric: np.ndarray
    categorical: np.ndarray
    target: np.ndarray


@dataclass
class Candidate:
    """A fitted, converted and parity-checked model, not yet registered."""

    onnx_bytes: bytes
    model: OnnxModel
    metrics: dict[str, float]
    parity: ParityReport
    baseline: dict[str, Any]
    held_out: HeldOut
    classes: list[Any]
    train_rows: int
    durations: dict[str, float] = field(default_factory=dict)


def _typed_target(spec: ModelSpec, target: np.ndarray) -> np.ndarray:
    """Integer class labels stay integers (the API answers 0, not "0"); others stay strings."""
    if spec.task == "regression":
        return target.astype(np.float64)
    labels = target.astype(str)
    try:
        as_int = labels.astype(np.int64)
    except ValueError:
        return labels
    return as_int if np.array_equal(as_int.astype(str), labels) else labels


def score(
    spec: ModelSpec, prediction: Prediction, target: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    """The spec's task metrics for one model's predictions on the held-out rows."""
    if spec.task == "classification":
        assert prediction.probabilities is not None
        return classification_metrics(
            target.astype(str),
            prediction.outputs.astype(str),
            np.asarray(prediction.probabilities, dtype=np.float64),
            np.array(classes).astype(str),
        )
    return regression_metrics(target, prediction.outputs)


def fit_candidate(spec: ModelSpec, data: TrainingData) -> Candidate:
    """Train the spec's pipeline on the file's data; ParityError if ONNX disagrees."""
    durations: dict[str, float] = {}
    started = time.perf_counter()
    target = _typed_target(spec, data.target)
    indices = np.arange(data.row_count)
    train_index, test_index = train_test_split(
        indices,
        test_size=spec.split.test_fraction,
        random_state=spec.split.seed,
        stratify=target if spec.task == "classification" else None,
    )
    x_all = model_input(data.numeric, data.categorical)
    pipeline = build_pipeline(spec)
    pipeline.fit(x_all[train_index], target[train_index])
    durations["fit_seconds"] = time.perf_counter() - started

    classes = pipeline.classes_.tolist() if spec.task == "classification" else []
    started = time.perf_counter()
    onnx_bytes = convert_to_onnx(pipeline, spec, classes)
    model = OnnxModel(onnx_bytes)
    durations["convert_seconds"] = time.perf_counter() - started

    held_out = HeldOut(data.numeric[test_index], data.categorical[test_index], target[test_index])
    started = time.perf_counter()
    parity = check_parity(
        pipeline, model, x_all[test_index], held_out.numeric, held_out.categorical
    )
    durations["parity_seconds"] = time.perf_counter() - started

    prediction = model.predict(held_out.numeric, held_out.categorical)
    metrics = score(spec, prediction, held_out.target, classes)
    baseline = build_baseline(
        spec, data.numeric[train_index], data.categorical[train_index], prediction.outputs, classes
    )
    return Candidate(
        onnx_bytes=onnx_bytes,
        model=model,
        metrics=metrics,
        parity=parity,
        baseline=baseline,
        held_out=held_out,
        classes=classes,
        train_rows=len(train_index),
        durations=durations,
    )
