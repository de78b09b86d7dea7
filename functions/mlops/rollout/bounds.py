"""Exact one-sided confidence bounds on a binomial rate (Clopper-Pearson), and Wilson's interval.

Why exact: the canary counts are small (a 1% limit means a handful of events per period) and the
normal approximation is badly anti-conservative there; Clopper-Pearson's bound never covers less
than its stated level. Computed with `scipy.special.betaincinv` (what `scipy.stats.beta.ppf`
calls, without its ~100 us of argument handling per call: the benchmark evaluates thousands of
looks); tests cross-check both bounds against `scipy.stats.beta.ppf` and `binomtest`.

scipy is why mlops.rollout's `__init__` does not re-export this module, `decision` or `shadow`:
the serving-setup custom resource imports `mlops.rollout` and does not ship scipy; the function
that decides canaries must (the training image already has it).
"""

from __future__ import annotations

from scipy.special import betaincinv
from scipy.stats import binomtest


def _check(events: int, trials: int, alpha: float) -> None:
    if trials < 0 or not 0 <= events <= trials:
        raise ValueError(f"need 0 <= events <= trials, got {events} of {trials}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def lower_bound(events: int, trials: int, alpha: float) -> float:
    """The rate's exact one-sided lower bound at confidence 1 - alpha (0 with no events).

    `lower_bound(x, n, a) > p0` exactly when the one-sided binomial test of p <= p0 rejects at
    level a, i.e. P(X >= x | n, p0) <= a."""
    _check(events, trials, alpha)
    if events == 0:
        return 0.0
    return float(betaincinv(events, trials - events + 1, alpha))


def upper_bound(events: int, trials: int, alpha: float) -> float:
    """The rate's exact one-sided upper bound at confidence 1 - alpha (1 with no trials or all
    trials events)."""
    _check(events, trials, alpha)
    if events == trials:
        return 1.0
    return float(betaincinv(events + 1, trials - events, 1 - alpha))


def wilson_interval(events: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's two-sided score interval, for reporting simulated rates (good coverage near 0
    and 1, where the simulation's rates live). (0, 1) with no trials."""
    if trials == 0:
        return (0.0, 1.0)
    interval = binomtest(events, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))
