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
from mlops.spec.model import CanaryPolicy, ShadowPolicy

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


def _shadow_policy(**limits: float) -> CanaryPolicy:
    return CanaryPolicy(shadow=ShadowPolicy(**limits))


def test_the_classifier_verdicts_state_their_exact_reason_and_figures() -> None:
    diverged = compare_shadow("classification", *_labels(1000, 80), POLICY)
    low = beta.ppf(POLICY.false_rollback_rate, 80, 921)
    assert diverged.reason == f"class flips 80/1000: lower bound {low:.4f} > 0.05"
    assert diverged.inputs == 1000
    assert diverged.flips is not None
    assert (diverged.flips.inputs, diverged.flips.flips, diverged.flips.alpha) == (1000, 80, 0.05)
    within = compare_shadow("classification", *_labels(1000, 60), POLICY)
    low = beta.ppf(POLICY.false_rollback_rate, 60, 941)
    assert within.reason == f"class flips 60/1000: lower bound {low:.4f} <= 0.05"
    assert within.inputs == 1000


def test_a_lower_bound_exactly_at_the_flip_limit_is_within_limits() -> None:
    """Diverged only when the lower bound *exceeds* max_class_flip_rate."""
    candidate, production = _labels(1000, 80)
    at = class_flips(candidate, production, POLICY.false_rollback_rate).lower_bound
    result = compare_shadow(
        "classification", candidate, production, _shadow_policy(max_class_flip_rate=at)
    )
    assert result.verdict == "within_limits"
    assert result.reason.endswith(f"<= {at:g}")
    just_below = _shadow_policy(max_class_flip_rate=math.nextafter(at, 0))
    assert compare_shadow("classification", candidate, production, just_below).verdict == (
        "diverged"
    )


def test_exactly_min_inputs_gets_a_verdict() -> None:
    at = compare_shadow("classification", *_labels(100, 0), POLICY)
    assert (at.verdict, at.inputs) == ("within_limits", 100)
    below = compare_shadow("classification", *_labels(99, 0), POLICY)
    assert (below.verdict, below.inputs) == ("too_few_inputs", 99)
    assert below.reason == "99 replayed inputs < min_inputs 100: the canary starts"


def test_no_inputs_have_no_flip_rate_and_bound_nothing() -> None:
    empty = np.array([], dtype=str)
    flips = class_flips(empty, empty, 0.05)
    assert (flips.inputs, flips.flips, flips.rate) == (0, 0, 0.0)
    assert (flips.lower_bound, flips.upper_bound) == (0.0, 1.0)


def test_the_regression_verdicts_state_their_exact_reason_and_figures() -> None:
    production = np.random.default_rng(1).normal(100, 20, 500)
    diverged = compare_shadow("regression", production * 1.5, production, POLICY)
    assert diverged.shift is not None
    assert (diverged.inputs, diverged.shift.inputs) == (500, 500)
    psi = output_psi(production * 1.5, production)
    assert diverged.reason == f"relative error 0.5000 > 0.1; output PSI {psi:.4f} > 0.2"
    within = compare_shadow("regression", production.copy(), production, POLICY)
    assert within.shift is not None
    assert (within.inputs, within.shift.inputs) == (500, 500)
    assert within.reason == "relative error 0.0000, output PSI 0.0000 within limits"


def test_relative_error_exactly_at_its_limit_is_within_limits() -> None:
    production = np.arange(1.0, 201.0)
    candidate = production * 1.125  # exact in binary: relative error 0.125 exactly
    assert relative_error(candidate, production) == 0.125
    at = _shadow_policy(max_relative_error=0.125, max_psi=10.0)
    assert compare_shadow("regression", candidate, production, at).verdict == "within_limits"
    over = _shadow_policy(max_relative_error=0.124, max_psi=10.0)
    assert compare_shadow("regression", candidate, production, over).reason == (
        "relative error 0.1250 > 0.124"
    )


def test_psi_exactly_at_its_limit_is_within_limits() -> None:
    production = np.arange(1.0, 201.0)
    candidate = production + 10.0
    psi = output_psi(candidate, production)
    at = _shadow_policy(max_relative_error=1.0, max_psi=psi)
    assert compare_shadow("regression", candidate, production, at).verdict == "within_limits"
    over = _shadow_policy(max_relative_error=1.0, max_psi=math.nextafter(psi, 0))
    assert compare_shadow("regression", candidate, production, over).verdict == "diverged"


def test_non_finite_regression_outputs_are_refused_with_the_reason() -> None:
    production = np.ones(200)
    with pytest.raises(ValueError, match=r"^regression outputs must be finite$"):
        compare_shadow("regression", production, np.r_[production[:-1], np.inf], POLICY)
