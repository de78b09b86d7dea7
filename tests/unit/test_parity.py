"""The parity check refuses an ONNX model that does not answer like its scikit-learn pipeline.

`test_estimators.py` shows every estimator passes; these show the check can fail: an ONNX
graph converted from a different fit is refused, and the tolerance's edges sit where the
module says they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from mlops.inference.session import OnnxModel, Prediction
from mlops.training.onnx_export import (
    PROBABILITY_TOLERANCE,
    REGRESSION_RELATIVE_TOLERANCE,
    ParityError,
    check_parity,
    convert_to_onnx,
)
from mlops.training.pipeline import build_pipeline, model_input
from tests.unit.test_estimators import _data, _spec


@pytest.mark.parametrize(
    ("estimator", "task"),
    [("random_forest_classifier", "classification"), ("ridge", "regression")],
)
def test_onnx_converted_from_another_fit_fails_parity(estimator: str, task: str) -> None:
    spec, data = _spec(estimator, task), _data(task)
    x = model_input(data.numeric, data.categorical)
    pipeline = build_pipeline(spec).fit(x, data.target)
    other = clone(pipeline).fit(x, np.random.default_rng(1).permutation(data.target))
    classes = pipeline.classes_.tolist() if task == "classification" else []
    disagreeing = OnnxModel(convert_to_onnx(other, spec, classes))
    agreeing = OnnxModel(convert_to_onnx(pipeline, spec, classes))

    report = check_parity(pipeline, agreeing, x, data.numeric, data.categorical)
    assert report.max_abs_difference <= report.tolerance
    with pytest.raises(ParityError, match="differ from scikit-learn by up to"):
        check_parity(pipeline, disagreeing, x, data.numeric, data.categorical)


# -- the rule at its edges, with a stand-in pipeline and model ---------------------------------
@dataclass
class _Pipeline:
    probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None
    values: np.ndarray | None = None

    def predict_proba(self, x: Any) -> np.ndarray:
        assert self.probabilities is not None
        return self.probabilities

    def predict(self, x: Any) -> np.ndarray:
        return self.labels if self.values is None else self.values  # type: ignore[return-value]


class _Model:
    def __init__(self, task: str, prediction: Prediction) -> None:
        self.metadata = SimpleNamespace(task=task)
        self.prediction = prediction

    def predict(self, numeric: np.ndarray, categorical: np.ndarray) -> Prediction:
        assert numeric.dtype == np.float32
        return self.prediction


SKLEARN_PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.45, 0.45, 0.1]])
SKLEARN_LABELS = np.array(["a", "c", "a"])


def _classification(offset: float, onnx_labels: list[str]) -> Any:
    pipeline = _Pipeline(probabilities=SKLEARN_PROBABILITIES, labels=SKLEARN_LABELS)
    probabilities = SKLEARN_PROBABILITIES.copy()
    probabilities[1, 2] += offset
    model = _Model("classification", Prediction(np.array(onnx_labels), probabilities))
    numeric = np.zeros((3, 2))
    return check_parity(
        pipeline,
        model,  # type: ignore[arg-type]
        numeric,
        numeric,
        np.empty((3, 0), dtype=object),
    )


def test_probabilities_within_tolerance_pass_with_a_report() -> None:
    report = _classification(0.5 * PROBABILITY_TOLERANCE, ["a", "c", "a"])
    assert report.as_dict() == {
        "max_abs_difference": pytest.approx(0.5 * PROBABILITY_TOLERANCE),
        "label_agreement": 1.0,
        "tolerance": PROBABILITY_TOLERANCE,
        "rows": 3,
    }


def test_probabilities_beyond_tolerance_fail() -> None:
    with pytest.raises(ParityError, match=r"differ from scikit-learn by up to 1\.50e-04"):
        _classification(1.5 * PROBABILITY_TOLERANCE, ["a", "c", "a"])


def test_a_label_may_differ_only_where_the_top_two_probabilities_tie() -> None:
    report = _classification(0.0, ["a", "c", "b"])  # row 3: 0.45 vs 0.45, a tie
    assert report.label_agreement == pytest.approx(2 / 3)
    with pytest.raises(ParityError, match=r"labels agree on 66\.67% of 3"):
        _classification(0.0, ["b", "c", "a"])  # row 1: 0.7 vs 0.2, no tie


def test_a_single_probability_column_has_no_ties() -> None:
    pipeline = _Pipeline(probabilities=np.array([[1.0], [1.0]]), labels=np.array(["a", "a"]))
    model = _Model("classification", Prediction(np.array(["a", "b"]), np.array([[1.0], [1.0]])))
    numeric = np.zeros((2, 1))
    with pytest.raises(ParityError):
        check_parity(pipeline, model, numeric, numeric, numeric)  # type: ignore[arg-type]


def _regression(expected: list[float], onnx: list[float]) -> Any:
    pipeline = _Pipeline(values=np.array(expected))
    model = _Model("regression", Prediction(np.array(onnx), None))
    numeric = np.zeros((len(expected), 1))
    return check_parity(pipeline, model, numeric, numeric, numeric)  # type: ignore[arg-type]


def test_regression_difference_is_relative_to_the_value_above_one() -> None:
    # 1000 +- 0.05 is 5e-5 relative: within; the same absolute gap at 0.5 is 5e-2: beyond.
    report = _regression([1000.0, -2000.0], [1000.05, -2000.1])
    assert report.max_abs_difference == pytest.approx(5e-5)
    assert (report.tolerance, report.rows, report.label_agreement) == (
        REGRESSION_RELATIVE_TOLERANCE,
        2,
        1.0,
    )
    with pytest.raises(ParityError, match=r"relative; tolerance 1e-04\) on 2 held-out rows"):
        _regression([1000.0, 0.5], [1000.0, 0.55])


def test_regression_difference_below_one_is_absolute() -> None:
    assert _regression([0.2], [0.2 + 0.5 * REGRESSION_RELATIVE_TOLERANCE]).max_abs_difference < (
        REGRESSION_RELATIVE_TOLERANCE
    )
    with pytest.raises(ParityError):
        _regression([0.2], [0.2 + 1.5 * REGRESSION_RELATIVE_TOLERANCE])


def test_a_gap_of_exactly_the_tolerance_passes() -> None:
    # 0 vs 1e-4 is exactly the tolerance in floating point: the limit is inclusive.
    pipeline = _Pipeline(probabilities=np.array([[0.0, 1.0]]), labels=np.array(["b"]))
    model = _Model("classification", Prediction(np.array(["b"]), np.array([[1e-4, 1.0]])))
    numeric = np.zeros((1, 1))
    report = check_parity(pipeline, model, numeric, numeric, numeric)  # type: ignore[arg-type]
    assert report.max_abs_difference == PROBABILITY_TOLERANCE
    assert _regression([0.0], [REGRESSION_RELATIVE_TOLERANCE]).max_abs_difference == (
        REGRESSION_RELATIVE_TOLERANCE
    )


def test_top_two_exactly_the_tolerance_apart_count_as_a_tie() -> None:
    pipeline = _Pipeline(probabilities=np.array([[1e-4, 0.0, 0.0]]), labels=np.array(["a"]))
    model = _Model("classification", Prediction(np.array(["b"]), np.array([[1e-4, 0.0, 0.0]])))
    numeric = np.zeros((1, 1))
    report = check_parity(pipeline, model, numeric, numeric, numeric)  # type: ignore[arg-type]
    assert report.label_agreement == 0.0


def test_two_classes_can_tie() -> None:
    pipeline = _Pipeline(probabilities=np.array([[0.5, 0.5]]), labels=np.array(["a"]))
    model = _Model("classification", Prediction(np.array(["b"]), np.array([[0.5, 0.5]])))
    numeric = np.zeros((1, 1))
    report = check_parity(pipeline, model, numeric, numeric, numeric)  # type: ignore[arg-type]
    assert report.label_agreement == 0.0
