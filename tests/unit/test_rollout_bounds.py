"""The exact binomial bounds equal scipy.stats' and the binomial test they stand for."""

from __future__ import annotations

import math

import pytest
from scipy.stats import beta, binomtest

from mlops.rollout.bounds import lower_bound, upper_bound, wilson_interval

GRID = [
    (x, n) for n in (1, 7, 100, 500, 3000) for x in sorted({0, 1, 2, n // 20, n // 2, n}) if x <= n
]


@pytest.mark.parametrize(("events", "trials"), GRID)
@pytest.mark.parametrize("alpha", [0.05, 0.05 / 24])
def test_bounds_equal_scipy_beta_quantiles(events: int, trials: int, alpha: float) -> None:
    expected_lower = beta.ppf(alpha, events, trials - events + 1) if events else 0.0
    expected_upper = beta.ppf(1 - alpha, events + 1, trials - events) if events < trials else 1.0
    assert lower_bound(events, trials, alpha) == pytest.approx(expected_lower, rel=1e-9, abs=1e-15)
    assert upper_bound(events, trials, alpha) == pytest.approx(expected_upper, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("trials", [100, 500, 1000, 6000])
def test_lower_bound_above_limit_is_the_one_sided_binomial_test(trials: int) -> None:
    """lower_bound(x) > p0 exactly when binomtest(x, n, p0, 'greater') rejects at alpha."""
    alpha, limit = 0.05 / 24, 0.01
    for events in range(0, int(trials * 0.05) + 5):
        rejects = binomtest(events, trials, limit, alternative="greater").pvalue <= alpha
        assert (lower_bound(events, trials, alpha) > limit) == rejects, events


def test_no_trials_bounds_nothing() -> None:
    assert lower_bound(0, 0, 0.05) == 0.0
    assert upper_bound(0, 0, 0.05) == 1.0


def test_all_events_have_the_closed_form_lower_bound() -> None:
    # P(X = n | p) = p^n = alpha at the bound.
    assert lower_bound(10, 10, 0.05) == pytest.approx(0.05 ** (1 / 10))
    assert upper_bound(10, 10, 0.05) == 1.0


@pytest.mark.parametrize(
    ("events", "trials", "alpha"), [(-1, 10, 0.05), (11, 10, 0.05), (1, 10, 0.0), (1, 10, 1.0)]
)
def test_impossible_counts_are_refused(events: int, trials: int, alpha: float) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        lower_bound(events, trials, alpha)


def test_wilson_interval_matches_its_formula() -> None:
    events, trials, z = 3, 200, 1.959963984540054
    rate = events / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z / (1 + z * z / trials) * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials**2))
    )
    low, high = wilson_interval(events, trials)
    assert (low, high) == pytest.approx((centre - half, centre + half), rel=1e-9)
    assert wilson_interval(0, 0) == (0.0, 1.0)
