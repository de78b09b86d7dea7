"""Shadow replay: how far a candidate's answers are from production's on the same inputs.

Before a canary takes live traffic, the reconciler can replay up to `canary.shadow.requests`
captured inputs through both versions and call `compare_shadow`. Pure: numpy arrays in, a
verdict with its figures out.

- Classifiers: the class-flip rate (share of inputs whose label differs), with exact
  Clopper-Pearson bounds. "diverged" only when the lower bound at level `false_rollback_rate`
  exceeds `max_class_flip_rate`: the same standard of evidence as a rollback (a retrained model
  is expected to flip a few labels, and a handful of replayed inputs is noisy).
- Regressors: the relative error, sum |candidate - production| / sum |production| (one ratio of
  sums, so outputs near zero do not blow it up as a mean of ratios would), and the PSI of the
  candidate's outputs against production's, over production's deciles. Both are compared with
  their limits as measured (deterministic given the inputs; no test).
- Fewer than `min_inputs`: "too_few_inputs", which is not a failure: the canary starts and its
  own sequential test (mlops.rollout.decision) judges the candidate on live traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlops.rollout.bounds import lower_bound, upper_bound
from mlops.spec.estimators import Task
from mlops.spec.model import CanaryPolicy

Verdict = Literal["too_few_inputs", "within_limits", "diverged"]
PSI_BINS = 10
#: Floor for an empty bin's share, so PSI stays finite (the usual convention).
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class ClassFlips:
    inputs: int
    flips: int
    rate: float
    lower_bound: float
    upper_bound: float
    alpha: float


@dataclass(frozen=True)
class OutputShift:
    inputs: int
    relative_error: float
    psi: float


@dataclass(frozen=True)
class ShadowResult:
    """The verdict, why, and the figures (one of `flips` / `shift`, by task)."""

    verdict: Verdict
    reason: str
    inputs: int
    flips: ClassFlips | None = None
    shift: OutputShift | None = None


def _pair(candidate: ArrayLike, production: ArrayLike) -> tuple[NDArray[np.generic], ...]:
    ours, theirs = np.asarray(candidate), np.asarray(production)
    if ours.ndim != 1 or ours.shape != theirs.shape:
        raise ValueError(
            f"need two 1-D arrays of the same length, got {ours.shape} and {theirs.shape}"
        )
    return ours, theirs


def class_flips(candidate: ArrayLike, production: ArrayLike, alpha: float) -> ClassFlips:
    """Share of inputs whose predicted label differs, with one-sided bounds at level alpha."""
    ours, theirs = _pair(candidate, production)
    inputs, flips = len(ours), int(np.count_nonzero(ours != theirs))
    return ClassFlips(
        inputs=inputs,
        flips=flips,
        rate=flips / inputs if inputs else 0.0,
        lower_bound=lower_bound(flips, inputs, alpha),
        upper_bound=upper_bound(flips, inputs, alpha),
        alpha=alpha,
    )


def relative_error(candidate: ArrayLike, production: ArrayLike) -> float:
    """sum |candidate - production| / sum |production| (0 when equal, inf when production is
    all zeros and the candidate is not)."""
    ours, theirs = (array.astype(np.float64) for array in _pair(candidate, production))
    difference = float(np.abs(ours - theirs).sum())
    scale = float(np.abs(theirs).sum())
    if difference == 0:
        return 0.0
    return difference / scale if scale else float("inf")


def output_psi(candidate: ArrayLike, production: ArrayLike, bins: int = PSI_BINS) -> float:
    """Population stability index of the candidate's outputs against production's, on bins cut
    at production's quantiles (ties merge bins, so a constant output still has two bins)."""
    ours, theirs = (array.astype(np.float64) for array in _pair(candidate, production))
    if len(theirs) == 0:
        raise ValueError("PSI needs at least one output")
    edges = np.unique(np.quantile(theirs, np.linspace(0, 1, bins + 1))[1:-1])
    if len(edges) == 0:
        edges = np.unique(theirs)[:1]
    count = len(edges) + 1
    expected = np.bincount(np.searchsorted(edges, theirs, side="right"), minlength=count)
    actual = np.bincount(np.searchsorted(edges, ours, side="right"), minlength=count)
    expected_share = np.maximum(expected / len(theirs), PSI_EPSILON)
    actual_share = np.maximum(actual / len(ours), PSI_EPSILON)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def compare_shadow(
    task: Task, candidate: ArrayLike, production: ArrayLike, policy: CanaryPolicy
) -> ShadowResult:
    """The shadow verdict for a classifier's labels or a regressor's outputs (module docstring).

    Raises ValueError when the arrays differ in shape or a regressor's outputs are not finite."""
    limits = policy.shadow
    ours, theirs = _pair(candidate, production)
    inputs = len(ours)
    if inputs < limits.min_inputs:
        return ShadowResult(
            "too_few_inputs",
            f"{inputs} replayed inputs < min_inputs {limits.min_inputs}: the canary starts",
            inputs,
        )
    if task == "classification":
        flips = class_flips(ours, theirs, policy.false_rollback_rate)
        diverged = flips.lower_bound > limits.max_class_flip_rate
        relation = ">" if diverged else "<="
        return ShadowResult(
            "diverged" if diverged else "within_limits",
            f"class flips {flips.flips}/{inputs}: lower bound {flips.lower_bound:.4f} "
            f"{relation} {limits.max_class_flip_rate:g}",
            inputs,
            flips=flips,
        )
    if not (np.all(np.isfinite(ours)) and np.all(np.isfinite(theirs))):
        raise ValueError("regression outputs must be finite")
    shift = OutputShift(inputs, relative_error(ours, theirs), output_psi(ours, theirs))
    broken = []
    if shift.relative_error > limits.max_relative_error:
        broken.append(f"relative error {shift.relative_error:.4f} > {limits.max_relative_error:g}")
    if shift.psi > limits.max_psi:
        broken.append(f"output PSI {shift.psi:.4f} > {limits.max_psi:g}")
    if broken:
        return ShadowResult("diverged", "; ".join(broken), inputs, shift=shift)
    return ShadowResult(
        "within_limits",
        f"relative error {shift.relative_error:.4f}, output PSI {shift.psi:.4f} within limits",
        inputs,
        shift=shift,
    )
