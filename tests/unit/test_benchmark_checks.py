"""The benchmark refuses to time two different models and judges cold-start targets on the
spread over rounds, not on one median (benchmarks/README.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.cold import ratio_spread
from benchmarks.report import cold_verdict
from benchmarks.warm import BenchmarkParityError, _check


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
