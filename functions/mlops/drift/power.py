"""What a check could have caught: the smallest effect it detects with 95% power at its n.

A 'no drift' is only as good as the check's power, so every result reports this number next
to the spec's minimum effect. Both are approximations stated for one model of drift, checked
by simulation in `benchmarks/drift_calibration.py` (predicted vs measured power):

- numeric: a location shift of a normal distribution, in its standard deviations. The KS
  distance of a shift d is 2*Phi(d/2) - 1; at the point of the largest CDF gap the empirical
  gap is roughly normal with standard deviation 0.5/sqrt(n_eff), and the supremum can only be
  larger, so a shift whose distance exceeds the critical distance by z(0.95) of those is
  caught at least 95% of the time by the test. The effect gate then needs the Wasserstein-1
  estimate (about the mean difference, standard error 1/sqrt(n_eff)) above the negligible
  level: the larger of the two shifts is reported.
- categorical: the chi-square test's power from the noncentral chi-square distribution, its
  noncentrality expressed as a Jensen-Shannon distance through JSD ~ chi2 / (8 n_eff) nats
  (second-order expansion of both in the proportions' differences); the effect gate as the
  chi-square value whose distance is the negligible level, with the same power.

The significance level used is alpha / k, Holm's first (strictest) step, so the number is
conservative for all but the most significant feature.
"""

from __future__ import annotations

import math

from scipy import special

from mlops.drift.statistics import effective_size, ks_critical_distance

DETECTION_POWER = 0.95
_Z_POWER = float(special.ndtri(DETECTION_POWER))


def detectable_shift_sd(
    alpha: float, n_reference: int, n_current: int, negligible_sd: float
) -> float:
    """Smallest normal location shift (in standard deviations) caught with 95% power."""
    n_eff = float(effective_size(n_reference, n_current))
    distance = float(ks_critical_distance(alpha, n_reference, n_current))
    distance += _Z_POWER * 0.5 / math.sqrt(n_eff)
    if distance >= 1:
        return math.inf
    by_test = 2 * float(special.ndtri((1 + distance) / 2))
    by_effect = negligible_sd + _Z_POWER / math.sqrt(n_eff)
    return max(by_test, by_effect)


def detectable_js(
    alpha: float, dof: int, n_reference: int, n_current: int, negligible_js: float
) -> float:
    """Smallest Jensen-Shannon distance caught with 95% power by a chi-square test of `dof`
    (significant at `alpha`) whose estimated distance also clears `negligible_js`."""
    if dof < 1:
        return math.inf
    n_eff = float(effective_size(n_reference, n_current))
    scale = 8 * n_eff * math.log(2)  # chi2 ~ scale * JS^2

    def caught_by(chi2_threshold: float) -> float:
        noncentrality = float(special.chndtrinc(chi2_threshold, dof, 1 - DETECTION_POWER))
        return math.sqrt(noncentrality / scale) if math.isfinite(noncentrality) else 0.0

    by_test = caught_by(float(special.chdtri(dof, alpha)))
    by_effect = caught_by(scale * negligible_js**2)
    return min(1.0, max(by_test, by_effect))
