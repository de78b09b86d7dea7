"""The benchmark refuses to time two different models and judges cold-start targets on the
spread over rounds, not on one median (benchmarks/README.md)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from benchmarks.cold import ratio_spread
from benchmarks.report import cold_verdict
from benchmarks.warm import BenchmarkParityError, _check, _check_v2


def _answer(labels: list[str], probabilities: list[list[float]]) -> dict[str, Any]:
    body = {"predictions": labels, "probabilities": probabilities}
    return {"statusCode": 200, "body": json.dumps(body)}


def _calls(onnx: dict[str, Any], sklearn: dict[str, Any]) -> dict[str, Any]:
    return {"handler_onnx": lambda: onnx, "handler_sklearn": lambda: sklearn}


def test_handlers_that_agree_within_the_tolerance_are_timed() -> None:
    sklearn = _answer(["a", "b"], [[0.7, 0.3], [0.5, 0.5]])
    onnx = _answer(["a", "a"], [[0.70005, 0.29995], [0.5, 0.5]])  # row 2: a tie
    checked = _check(_calls(onnx, sklearn), rows=2)
    assert checked["max_probability_gap"] == pytest.approx(5e-5)
    assert checked["label_agreement"] == 0.5


@pytest.mark.parametrize(
    "onnx",
    [
        _answer(["a", "b"], [[0.7002, 0.2998], [0.5, 0.5]]),  # probabilities 2e-4 apart
        _answer(["b", "b"], [[0.7, 0.3], [0.5, 0.5]]),  # a label flipped away from a tie
    ],
    ids=["probabilities", "labels"],
)
def test_handlers_that_disagree_stop_the_benchmark(onnx: dict[str, Any]) -> None:
    sklearn = _answer(["a", "b"], [[0.7, 0.3], [0.5, 0.5]])
    with pytest.raises(BenchmarkParityError, match="not timing two different models"):
        _check(_calls(onnx, sklearn), rows=2)


def _v2_answer(labels: list[int], probabilities: list[float], classes: int) -> dict[str, Any]:
    rows = len(labels)
    outputs = [
        {"name": "predictions", "shape": [rows], "datatype": "INT64", "data": labels},
        {
            "name": "probabilities",
            "shape": [rows, classes],
            "datatype": "FP32",
            "data": probabilities,
        },
    ]
    return {"statusCode": 200, "body": json.dumps({"outputs": outputs})}


def test_the_v2_route_is_timed_only_when_it_answers_exactly_what_session_run_does() -> None:
    import numpy as np

    floor = [np.array([0, 1]), np.array([[0.7, 0.3], [0.1, 0.9]], dtype=np.float32)]
    exact = [float(v) for v in floor[1].reshape(-1)]  # float32 values, as orjson writes them
    assert _check_v2(lambda: _v2_answer([0, 1], exact, 2), floor, rows=2)["equal_to_session_run"]
    nudged = [*exact[:-1], float(np.nextafter(np.float32(0.9), np.float32(1)))]
    for wrong in (_v2_answer([0, 0], exact, 2), _v2_answer([0, 1], nudged, 2)):
        with pytest.raises(BenchmarkParityError, match=r"not session\.run's"):
            _check_v2(partial(dict, wrong), floor, rows=2)


def test_ratio_spread_is_per_round_with_an_interval_around_the_median() -> None:
    spread = ratio_spread([1.0, 2.0, 3.0, 4.0, 5.0], [4.0, 5.0, 6.0, 8.0, 10.0])
    assert spread["all"] == [0.25, 0.4, 0.5, 0.5, 0.5]
    assert (spread["rounds"], spread["median"], spread["min"], spread["max"]) == (
        5,
        0.5,
        0.25,
        0.5,
    )
    assert 0.25 <= spread["ci95_low"] <= spread["median"] <= spread["ci95_high"] <= 0.5


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (0.30, 0.39, "PASS"),
        (0.30, 0.40, "PASS"),
        (0.36, 0.44, "**UNDECIDED** (interval straddles the target)"),
        (0.41, 0.45, "**MISS**"),
    ],
)
def test_a_cold_start_target_passes_only_beyond_the_noise(
    low: float, high: float, verdict: str
) -> None:
    assert cold_verdict({"ci95_low": low, "ci95_high": high}, 0.40) == verdict
