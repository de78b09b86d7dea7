"""Shadow replay divergence: class flips with exact bounds, relative error and PSI, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta

from mlops.rollout.shadow import (
    PSI_EPSILON,
    class_flips,
    compare_shadow,
    output_psi,
    relative_error,
)
from mlops.spec.model import CanaryPolicy

POLICY = CanaryPolicy()  # shadow: min_inputs 100, max flips 5%, relative error 0.1, PSI 0.2


def _labels(inputs: int, flips: int) -> tuple[np.ndarray, np.ndarray]:
    production = np.array(["setosa"] * inputs)
    candidate = production.copy()
    candidate[:flips] = "virginica"
    return candidate, production


def test_identical_labels_are_within_limits() -> None:
    candidate, production = _labels(1000, 0)
    result = compare_shadow("classification", candidate, production, POLICY)
    assert result.verdict == "within_limits"
    assert result.flips is not None
    assert (result.flips.flips, result.flips.rate, result.flips.lower_bound) == (0, 0.0, 0.0)


def test_flip_bounds_are_scipys_clopper_pearson() -> None:
    flips = class_flips(*_labels(1000, 80), alpha=0.05)
    assert flips.rate == 0.08
    assert flips.lower_bound == pytest.approx(beta.ppf(0.05, 80, 921))
    assert flips.upper_bound == pytest.approx(beta.ppf(0.95, 81, 920))


def test_many_flips_diverge_a_few_more_than_the_limit_do_not() -> None:
    diverged = compare_shadow("classification", *_labels(1000, 80), POLICY)
    assert diverged.verdict == "diverged"
    assert "80/1000" in diverged.reason
    # 6% of 1000 is not evidence of more than 5%: lower bound ~4.8%.
    assert compare_shadow("classification", *_labels(1000, 60), POLICY).verdict == "within_limits"


def test_too_few_inputs_lets_the_canary_start() -> None:
    result = compare_shadow("classification", *_labels(99, 99), POLICY)
    assert (result.verdict, result.flips) == ("too_few_inputs", None)
    assert "canary starts" in result.reason


def test_zero_inputs_are_too_few_not_an_error() -> None:
    empty = np.array([], dtype=float)
    assert compare_shadow("regression", empty, empty, POLICY).verdict == "too_few_inputs"


def test_arrays_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        compare_shadow("classification", np.zeros(3), np.zeros(4), POLICY)
    with pytest.raises(ValueError, match="1-D"):
        class_flips(np.zeros((2, 2)), np.zeros((2, 2)), 0.05)


def test_identical_regression_outputs_are_within_limits() -> None:
    production = np.random.default_rng(0).normal(100, 20, 500)
    result = compare_shadow("regression", production.copy(), production, POLICY)
    assert result.verdict == "within_limits"
    assert result.shift is not None
    assert (result.shift.relative_error, result.shift.psi) == (0.0, 0.0)


def test_scaled_regression_outputs_diverge_on_relative_error_and_psi() -> None:
    production = np.random.default_rng(1).normal(100, 20, 500)
    result = compare_shadow("regression", production * 1.5, production, POLICY)
    assert result.verdict == "diverged"
    assert result.shift is not None
    assert result.shift.relative_error == pytest.approx(0.5)
    assert result.shift.psi > POLICY.shadow.max_psi
    assert "relative error" in result.reason
    assert "PSI" in result.reason


def test_relative_error_is_a_ratio_of_sums() -> None:
    assert relative_error([1.0, 3.0], [2.0, 2.0]) == pytest.approx(2 / 4)
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert relative_error([1.0], [0.0]) == math.inf


def test_psi_matches_its_formula_when_all_mass_moves_to_one_decile() -> None:
    production = np.arange(1000, dtype=float)
    candidate = np.full(1000, 999.0)  # every output in production's top decile
    expected = (1 - 0.1) * math.log(1 / 0.1) + 9 * (PSI_EPSILON - 0.1) * math.log(PSI_EPSILON / 0.1)
    assert output_psi(candidate, production) == pytest.approx(expected)


def test_psi_of_a_constant_production_output() -> None:
    constant = np.full(200, 3.0)
    assert output_psi(constant, constant) == 0.0
    assert output_psi(np.full(200, 2.0), constant) > 1.0


def test_non_finite_regression_outputs_are_refused() -> None:
    production = np.ones(200)
    candidate = production.copy()
    candidate[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        compare_shadow("regression", candidate, production, POLICY)
