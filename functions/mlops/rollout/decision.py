"""The canary decision: roll back, promote, keep baking, or extend, from the canary's own counts.

Pure (no AWS): the rollout reconciler reads the canary's cumulative counts up to the end of the
last whole evaluation period and calls `decide_canary(counts, policy)`; the returned
`CanaryDecision` carries every figure it rests on, for the registry and the announcement.

The test (DESIGN §7: a decision that can alarm states its test, correction, effect and n):

- Two metrics, each a binomial count on the canary's traffic: errors (5xx, failed loads,
  invalid outputs) against `max_error_rate`, and slow requests (> `max_p99_latency_ms`) against
  a 1% share, because p99 <= L exactly when at most 1% of requests take longer than L.
- Looks: one per `evaluation_minutes`, at most K = ceil((bake_minutes + max_extension_minutes) /
  evaluation_minutes), the last of which always decides.
- Rollback ("the policy is broken"): at every look, for each metric, the exact one-sided
  binomial test of H0: rate <= limit, i.e. the Clopper-Pearson lower bound above the limit, at
  level alpha / (2K): Bonferroni over two metrics and the maximum number of looks, so the
  chance that a candidate within the policy is ever rolled back is <= alpha
  (`false_rollback_rate`, 0.05), whatever the data, at any look pattern up to K. A model that
  fails to load is rolled back at once, without statistics.
- Promotion ("the policy holds"): from the first look at or after `bake_minutes`, with at least
  `min_requests`, when for both metrics the Clopper-Pearson upper bound at level beta / Kp (Kp:
  the looks at which promotion is possible) is below `minimum_effect` x the limit. Both must
  pass (an intersection-union test needs no correction across metrics), so a candidate at
  `minimum_effect` x the limit or worse on either metric is promoted with probability <= beta
  (`false_promotion_rate`, 0.05).
- Minimum effect and n: promotion must exclude `minimum_effect` (2x) the limit; with the
  defaults (K = 12, Kp = 7) that takes about 250 requests with no events, about 450 at half
  the limit and about 1,050 at the limit. The rollback test is built to catch 5x the limit
  within two periods of 500 requests (power > 99.9% at 1,000 requests, exact; every simulated
  canary is caught at the first look) and catches 2x the limit in every simulated canary by
  about 3,000 requests. Exact probabilities over all 12 looks (tests/unit/
  test_canary_decision.py, by dynamic programming through this function): rolled back at the
  limit, per metric, 0.6% at 100 requests a period and 0.7% at 500 (bound 2.5%: Bonferroni and
  the discrete binomial are conservative); promoted at 2x the limit, 1.3% and 1.0% (bound 5%).
  `make bench` (benchmarks/canary_simulation.py) measures the rates through this function.
- Undecided: before the bake ends the answer is `continue`; after it, `insufficient_traffic`
  (fewer than `min_requests`) or `extend` (neither boundary crossed), both while looks remain;
  at look K the canary gets `on_extension_limit` (default `rollback`: no promotion without
  evidence; a low-traffic model that must ship can say `promote`, still guarded by the
  rollback test at every earlier look).

Why Bonferroni over a fixed maximum of looks rather than an SPRT or an alpha-spending function:
the bound is exact at any n, needs no model of the alternative to be valid, is cross-checked
against scipy.stats in one line, and at these sizes costs little power (the simulation's
rollback-within-two-periods rate is > 99% at 500 requests a period). Its contract: at most one
look per evaluation period, on whole periods; looking more often voids the stated alpha.

Where feedback exists for both versions, the quality gap (canary minus production, with a 95%
Welch interval) is recorded; it does not decide (the quality gate at training time does).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from mlops.rollout.bounds import lower_bound, upper_bound
from mlops.spec.model import CanaryPolicy

Action = Literal["rollback", "promote", "continue", "insufficient_traffic", "extend"]
#: Which branch of the rule decided (machine-readable; `reason` is for people).
Rule = Literal[
    "load_failure",
    "policy_broken",
    "first_period",
    "baking",
    "insufficient_traffic",
    "policy_holds",
    "undecided",
    "extension_limit",
]
#: p99 <= L exactly when at most this share of requests takes longer than L.
SLOW_SHARE_LIMIT = 0.01
TEST_NAME = (
    "exact one-sided binomial (Clopper-Pearson) per metric; rollback: lower bound > limit at "
    "alpha/(2K), Bonferroni over 2 metrics x K looks; promotion: upper bound < minimum_effect x "
    "limit at beta/Kp for both metrics (intersection-union)"
)
QUALITY_GAP_CONFIDENCE = 0.95


@dataclass(frozen=True)
class CanaryCounts:
    """The canary's cumulative counts from its start to the end of the last whole period."""

    requests: int
    errors: int
    slow_requests: int
    elapsed_minutes: float
    load_failures: int = 0

    def __post_init__(self) -> None:
        if self.requests < 0 or self.load_failures < 0 or self.elapsed_minutes < 0:
            raise ValueError(f"counts cannot be negative: {self}")
        if not math.isfinite(self.elapsed_minutes):
            raise ValueError(f"elapsed_minutes must be finite, got {self.elapsed_minutes}")
        for name, value in (("errors", self.errors), ("slow_requests", self.slow_requests)):
            if not 0 <= value <= self.requests:
                raise ValueError(f"{name} must be in [0, requests={self.requests}], got {value}")


@dataclass(frozen=True)
class FeedbackSummary:
    """One version's per-request quality score on labelled requests: its count, mean and
    variance (1/0 correct for a classifier's accuracy, absolute error for a regressor)."""

    labelled: int
    mean: float
    variance: float


def feedback_summary(scores: ArrayLike) -> FeedbackSummary:
    """Summarise one version's per-request scores (1/0 correct, or absolute errors) on the
    requests that have feedback; the sample variance (n - 1), 0 for fewer than two."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError("feedback scores must be a 1-D array of finite numbers")
    labelled = len(values)
    return FeedbackSummary(
        labelled=labelled,
        mean=float(values.mean()) if labelled else 0.0,
        variance=float(values.var(ddof=1)) if labelled > 1 else 0.0,
    )


@dataclass(frozen=True)
class QualityFeedback:
    metric: str
    canary: FeedbackSummary
    production: FeedbackSummary


@dataclass(frozen=True)
class QualityGap:
    """Canary minus production on `metric`, with a Welch (normal) interval at 95%."""

    metric: str
    canary_mean: float
    production_mean: float
    gap: float
    low: float
    high: float
    canary_labelled: int
    production_labelled: int


@dataclass(frozen=True)
class MetricEvidence:
    """One metric's figures at this look: what the registry records and the alert quotes."""

    metric: Literal["error_rate", "slow_share"]
    events: int
    requests: int
    rate: float
    limit: float
    rollback_alpha: float
    lower_bound: float
    promotion_limit: float
    promotion_beta: float
    upper_bound: float

    @property
    def broken(self) -> bool:
        """The evidence says the policy is broken: the lower bound is above the limit."""
        return self.lower_bound > self.limit

    @property
    def holds(self) -> bool:
        """The evidence excludes `minimum_effect` x the limit."""
        return self.upper_bound < self.promotion_limit


@dataclass(frozen=True)
class CanaryDecision:
    """What to do now, why, and the evidence (`as_record()` is JSON-ready)."""

    action: Action
    rule: Rule
    reason: str
    look: int
    max_looks: int
    first_promotion_look: int
    requests: int
    load_failures: int
    metrics: tuple[MetricEvidence, ...]
    alpha_spent: float
    test: str = TEST_NAME
    quality_gap: QualityGap | None = None

    @property
    def final(self) -> bool:
        return self.action in ("rollback", "promote")

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        for evidence, row in zip(self.metrics, record["metrics"], strict=True):
            row["broken"], row["holds"] = evidence.broken, evidence.holds
        return record


@dataclass(frozen=True)
class LookPlan:
    """How many looks the policy allows and when promotion becomes possible."""

    max_looks: int
    first_promotion_look: int

    @property
    def promotion_looks(self) -> int:
        return self.max_looks - self.first_promotion_look + 1


def look_plan(policy: CanaryPolicy) -> LookPlan:
    period = policy.evaluation_minutes
    return LookPlan(
        max_looks=math.ceil((policy.bake_minutes + policy.max_extension_minutes) / period),
        first_promotion_look=math.ceil(policy.bake_minutes / period),
    )


def rollback_alpha(policy: CanaryPolicy) -> float:
    """Each metric's level at each look: alpha over 2 metrics x K looks (Bonferroni)."""
    return policy.false_rollback_rate / (2 * look_plan(policy).max_looks)


def promotion_beta(policy: CanaryPolicy) -> float:
    """Each promotion look's level: beta over the looks where promotion is possible."""
    return policy.false_promotion_rate / look_plan(policy).promotion_looks


def metric_evidence(
    metric: Literal["error_rate", "slow_share"],
    events: int,
    requests: int,
    limit: float,
    policy: CanaryPolicy,
) -> MetricEvidence:
    alpha, beta = rollback_alpha(policy), promotion_beta(policy)
    return MetricEvidence(
        metric=metric,
        events=events,
        requests=requests,
        rate=events / requests if requests else 0.0,
        limit=limit,
        rollback_alpha=alpha,
        lower_bound=lower_bound(events, requests, alpha),
        promotion_limit=policy.minimum_effect * limit,
        promotion_beta=beta,
        upper_bound=upper_bound(events, requests, beta),
    )


def quality_gap(feedback: QualityFeedback) -> QualityGap | None:
    """Canary minus production with a Welch interval; None unless both versions have labels."""
    canary, production = feedback.canary, feedback.production
    if canary.labelled == 0 or production.labelled == 0:
        return None
    gap = canary.mean - production.mean
    spread = math.sqrt(
        canary.variance / canary.labelled + production.variance / production.labelled
    )
    half = float(norm.ppf(0.5 + QUALITY_GAP_CONFIDENCE / 2)) * spread
    return QualityGap(
        metric=feedback.metric,
        canary_mean=canary.mean,
        production_mean=production.mean,
        gap=gap,
        low=gap - half,
        high=gap + half,
        canary_labelled=canary.labelled,
        production_labelled=production.labelled,
    )


def decide_canary(
    counts: CanaryCounts, policy: CanaryPolicy, feedback: QualityFeedback | None = None
) -> CanaryDecision:
    """The decision at this look (the module docstring states the rule and its error rates).

    `counts` are cumulative since the canary started, up to the end of the last whole
    evaluation period (the look number is the number of whole periods elapsed). Call at most
    once per period. Raises ValueError on impossible counts (more errors than requests)."""
    plan = look_plan(policy)
    look = int(counts.elapsed_minutes // policy.evaluation_minutes)
    metrics = (
        metric_evidence(
            "error_rate", counts.errors, counts.requests, policy.max_error_rate, policy
        ),
        metric_evidence(
            "slow_share", counts.slow_requests, counts.requests, SLOW_SHARE_LIMIT, policy
        ),
    )
    spent_looks = min(look, plan.max_looks)

    def decided(action: Action, rule: Rule, reason: str) -> CanaryDecision:
        return CanaryDecision(
            action=action,
            rule=rule,
            reason=reason,
            look=look,
            max_looks=plan.max_looks,
            first_promotion_look=plan.first_promotion_look,
            requests=counts.requests,
            load_failures=counts.load_failures,
            metrics=metrics,
            alpha_spent=spent_looks * 2 * rollback_alpha(policy),
            quality_gap=quality_gap(feedback) if feedback else None,
        )

    if counts.load_failures:
        return decided(
            "rollback", "load_failure", f"the model failed to load ({counts.load_failures}x)"
        )
    if look == 0:
        return decided("continue", "first_period", "the first evaluation period has not ended")
    broken = [evidence for evidence in metrics if evidence.broken]
    if broken:
        return decided(
            "rollback",
            "policy_broken",
            "; ".join(
                f"{e.metric} {e.events}/{e.requests}: lower bound {e.lower_bound:.4f} > "
                f"limit {e.limit:g}"
                for e in broken
            ),
        )
    if look < plan.first_promotion_look:
        return decided(
            "continue",
            "baking",
            f"baking: look {look}, promotion from look {plan.first_promotion_look}",
        )
    last = look >= plan.max_looks
    if counts.requests < policy.min_requests:
        reason = f"insufficient traffic: {counts.requests} < min_requests {policy.min_requests}"
        if last:
            return decided(
                policy.on_extension_limit, "extension_limit", f"{reason} at the extension limit"
            )
        return decided("insufficient_traffic", "insufficient_traffic", f"{reason}; bake extended")
    if all(evidence.holds for evidence in metrics):
        return decided(
            "promote", "policy_holds", "upper bounds below minimum_effect x limit on both metrics"
        )
    reason = "undecided: " + "; ".join(
        f"{e.metric} upper bound {e.upper_bound:.4f} >= {e.promotion_limit:g}"
        for e in metrics
        if not e.holds
    )
    if last:
        return decided(
            policy.on_extension_limit, "extension_limit", f"{reason} at the extension limit"
        )
    return decided("extend", "undecided", f"{reason}; bake extended")
