"""The two-sample statistics a drift check runs, vectorised where it pays, each cross-checked
against scipy in tests/unit/test_drift_statistics.py.

Why not call `scipy.stats.ks_2samp` per feature: on 1M rows it merges with binary searches and
computes its p-value with `kstwo.sf`, which is O(n) where the statistic is near its critical
value (0.2-0.5 s per call at n = 500k here); 20 features took 2.6-4.9 s in the benchmark, over
the 3 s budget before reading any file. Here one SIMD float sort of both samples, with the
sample each value came from carried in the last mantissa bit, gives the merged order, and the
KS distance and the Wasserstein-1 distance come from a few in-place passes over it (~27 ms per
1M-row feature; 20 features 0.5-1.0 s: benchmarks/results/drift_calibration.md).

Contracts (each has a test):
- `ks_wasserstein`: the KS statistic equals scipy's `ks_2samp(...).statistic` and the
  Wasserstein-1 distance equals `scipy.stats.wasserstein_distance`, ties included, except that
  two values one unit in the last place apart (about 2e-16 relative) count as tied.
- `ks_p_value`: Kolmogorov's limiting distribution at sqrt(n*m/(n+m)) * D. Against scipy's
  default (exact up to 10,000 rows, `kstwo` above): at p <= 0.05, where decisions are made,
  never below it (measured ratio 1.0002-1.03 from 100 rows on), so it adds no false alarms;
  everywhere within 0.01 of it from 100 rows on (0.04 below). It costs microseconds where
  `kstwo` is O(n).
- `chi_square_homogeneity`: scipy's `chi2_contingency(table, correction=False)`.
- `jensen_shannon_distance`: scipy's `spatial.distance.jensenshannon(p, q, base=2)`.
- `cramers_v`: scipy's `stats.contingency.association(table, method="cramer")`.
- `holm`: Holm's step-down adjusted p-values (statsmodels' `multipletests(method="holm")`).
- `wilson_interval`: the Wilson score interval for a binomial proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

_LOW_BIT = np.uint64(1)


@dataclass(frozen=True)
class TwoSampleDistance:
    """KS distance D (sup of the CDF difference) and Wasserstein-1 distance (area between the
    CDFs, in the feature's units) of two samples, with their sizes."""

    ks: float
    wasserstein: float
    n_reference: int
    n_current: int


def ks_wasserstein(reference: np.ndarray, current: np.ndarray) -> TwoSampleDistance:
    """D and W1 of two 1-d samples of finite float64 values (callers drop NaN and inf first).

    Raises ValueError if either sample is empty.
    """
    m, n = int(reference.size), int(current.size)
    if m == 0 or n == 0:
        raise ValueError("both samples need at least one value")
    merged = np.concatenate([reference, current]).astype(np.float64, copy=False)
    merged += 0.0  # -0.0 becomes 0.0: equal values, so equal keys
    # The sample a value came from rides in the last mantissa bit, so one SIMD float sort gives
    # the merged order (a stable argsort is ~5x slower). Values with that bit cleared are
    # multiples of two units in the last place: distinct ones keep their order, and values one
    # unit apart become a tie group, inside which the order does not matter (see below).
    bits = merged.view(np.uint64)
    bits &= ~_LOW_BIT
    bits[m:] |= _LOW_BIT
    merged.sort()
    bits = merged.view(np.uint64)
    # Every pass below is in place where it can be: at 1M rows each array is 16 MB, and the
    # passes, not the sort, are most of the time.
    scaled = np.bitwise_and(bits, _LOW_BIT).view(np.int64)
    np.cumsum(scaled, out=scaled)  # values from the current sample so far
    bits &= ~_LOW_BIT  # merged now holds the values themselves (tie groups equal)
    # n*m*|F_reference - F_current| at each merged position, exact in int64.
    scaled *= -(m + n)
    scaled += np.arange(n, n * (m + n) + 1, n, dtype=np.int64)
    np.abs(scaled, out=scaled)
    gaps = np.diff(merged)
    # Inside a tie group the CDFs are not yet complete: only a group's last element counts for
    # D. Tie groups have zero gaps, so W1 needs no such care.
    group_end = np.empty(merged.size, dtype=bool)
    np.not_equal(gaps, 0, out=group_end[:-1])
    group_end[-1] = True
    total = float(m) * float(n)
    largest = scaled.max() if group_end.all() else scaled[group_end].max()
    ks = float(largest) / total
    # Not np.dot: BLAS threads cost ~10 ms per call on a busy 2-core machine, more than the rest.
    gaps *= scaled[:-1]
    wasserstein = float(gaps.sum()) / total
    return TwoSampleDistance(ks=ks, wasserstein=wasserstein, n_reference=m, n_current=n)


def effective_size(n_reference: int | np.ndarray, n_current: int | np.ndarray) -> np.ndarray:
    """n*m/(n+m): the sample size that sets a two-sample test's precision."""
    m = np.asarray(n_reference, np.float64)
    n = np.asarray(n_current, np.float64)
    return np.asarray(m * n / (m + n))


def ks_p_value(
    ks: float | np.ndarray, n_reference: int | np.ndarray, n_current: int | np.ndarray
) -> np.ndarray:
    """Two-sided p-values of KS distances from Kolmogorov's limiting distribution (vectorised)."""
    return np.asarray(
        special.kolmogorov(np.sqrt(effective_size(n_reference, n_current)) * np.asarray(ks))
    )


def ks_critical_distance(
    alpha: float | np.ndarray, n_reference: int | np.ndarray, n_current: int | np.ndarray
) -> np.ndarray:
    """The KS distance whose `ks_p_value` is `alpha`: the smallest distance that is significant."""
    return np.asarray(
        special.kolmogi(np.asarray(alpha)) / np.sqrt(effective_size(n_reference, n_current))
    )


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    dof: int
    p_value: float


def chi_square_homogeneity(table: np.ndarray) -> ChiSquare:
    """Pearson's chi-square test that the rows of a counts table share one distribution.

    Columns with no counts in any row are dropped (no expected count, no information). No Yates
    correction: with thousands of rows it only costs power. A table left with one column has
    nothing to compare: statistic 0, p-value 1.
    """
    counts = np.asarray(table, np.float64)
    counts = counts[:, counts.sum(axis=0) > 0]
    if counts.shape[1] < 2 or np.any(counts.sum(axis=1) == 0):
        return ChiSquare(statistic=0.0, dof=0, p_value=1.0)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    dof = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    return ChiSquare(statistic=statistic, dof=dof, p_value=float(special.chdtrc(dof, statistic)))


def cramers_v(table: np.ndarray) -> float:
    """Cramer's V of a counts table: sqrt(chi2 / (N * (min(rows, columns) - 1)))."""
    counts = np.asarray(table, np.float64)
    counts = counts[:, counts.sum(axis=0) > 0]
    smaller = min(counts.shape) - 1
    if smaller < 1:
        return 0.0
    return float(np.sqrt(chi_square_homogeneity(counts).statistic / (counts.sum() * smaller)))


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2: 0 same, 1 disjoint) of
    two count or probability vectors over the same categories. Defined when a category is
    missing from one side, which is why it, not KL or PSI, measures categorical drift."""
    p = np.asarray(p, np.float64) / np.sum(p)
    q = np.asarray(q, np.float64) / np.sum(q)
    mixture = (p + q) / 2
    divergence = 0.5 * (_kl_bits(p, mixture) + _kl_bits(q, mixture))
    return float(np.sqrt(max(divergence, 0.0)))


def _kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / q[present])))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: reject where adjusted <= alpha and the family-wise
    error rate is at most alpha under any dependence between the tests."""
    p = np.asarray(p_values, np.float64)
    k = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (k - np.arange(k)) * p[order]))
    adjusted = np.empty(k)
    adjusted[order] = stepped
    return adjusted


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: right coverage near 0 and 1, where the normal
    interval fails (a 0/20 success rate has a real upper bound). (0, 1) for no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    z = float(special.ndtri(1 - (1 - confidence) / 2))
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, float(centre - half)), min(1.0, float(centre + half)))
