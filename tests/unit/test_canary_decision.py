"""The canary decision rule: each branch, its boundaries against scipy, its error rates."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import beta, binom, binomtest, norm

from mlops.rollout.decision import (
    CanaryCounts,
    FeedbackSummary,
    QualityFeedback,
    decide_canary,
    feedback_summary,
    look_plan,
    promotion_beta,
    rollback_alpha,
)
from mlops.spec.model import CanaryPolicy

POLICY = CanaryPolicy()  # bake 30 min, 5-min looks, +30 min extension: K = 12, promote from 6
PERIOD = POLICY.evaluation_minutes
LAST = look_plan(POLICY).max_looks
BAKED = look_plan(POLICY).first_promotion_look


def _counts(look: int, requests: int, errors: int = 0, slow: int = 0, **extra: Any) -> CanaryCounts:
    return CanaryCounts(
        requests=requests,
        errors=errors,
        slow_requests=slow,
        elapsed_minutes=look * PERIOD,
        **extra,
    )


def test_the_default_plan_has_twelve_looks_promotion_from_the_sixth() -> None:
    assert (LAST, BAKED) == (12, 6)
    assert rollback_alpha(POLICY) == pytest.approx(0.05 / 24)
    assert promotion_beta(POLICY) == pytest.approx(0.05 / 7)


def test_a_failed_load_rolls_back_at_once_without_traffic() -> None:
    decision = decide_canary(_counts(0, 0, load_failures=1), POLICY)
    assert (decision.action, decision.rule, decision.final) == ("rollback", "load_failure", True)


def test_zero_requests_keep_baking_then_extend_then_follow_the_limit_rule() -> None:
    assert decide_canary(_counts(0, 0), POLICY).action == "continue"
    assert decide_canary(_counts(1, 0), POLICY).action == "continue"
    assert decide_canary(_counts(BAKED, 0), POLICY).action == "insufficient_traffic"
    assert decide_canary(_counts(LAST - 1, 0), POLICY).action == "insufficient_traffic"
    final = decide_canary(_counts(LAST, 0), POLICY)
    assert (final.action, final.rule) == ("rollback", "extension_limit")
    assert "insufficient traffic" in final.reason


def test_the_extension_limit_rule_is_the_specs() -> None:
    policy = CanaryPolicy(on_extension_limit="promote")
    decision = decide_canary(_counts(LAST, 50), policy)
    assert (decision.action, decision.rule) == ("promote", "extension_limit")


def test_a_late_look_beyond_the_last_still_decides() -> None:
    assert decide_canary(_counts(LAST + 5, 0), POLICY).final


def test_all_errors_roll_back_at_the_first_look_with_the_figures() -> None:
    decision = decide_canary(_counts(1, 10, errors=10), POLICY)
    assert (decision.action, decision.rule) == ("rollback", "policy_broken")
    errors = decision.metrics[0]
    assert (errors.metric, errors.events, errors.requests, errors.rate) == ("error_rate", 10, 10, 1)
    assert errors.broken
    assert errors.lower_bound == pytest.approx(rollback_alpha(POLICY) ** (1 / 10))
    assert "error_rate 10/10" in decision.reason


def test_slow_requests_alone_roll_back() -> None:
    decision = decide_canary(_counts(2, 1000, errors=5, slow=50), POLICY)
    assert decision.action == "rollback"
    assert [m.metric for m in decision.metrics if m.broken] == ["slow_share"]


def test_nothing_is_judged_before_the_first_period_ends() -> None:
    assert decide_canary(_counts(0, 100, errors=100), POLICY).rule == "first_period"


@pytest.mark.parametrize(("look", "requests"), [(1, 100), (3, 1500), (LAST, 6000)])
def test_rollback_boundary_is_scipys_one_sided_binomial_test(look: int, requests: int) -> None:
    """The fewest errors that roll back are the fewest binomtest rejects at alpha / (2K)."""
    alpha = rollback_alpha(POLICY)
    fewest = next(
        x
        for x in range(requests + 1)
        if decide_canary(_counts(look, requests, errors=x), POLICY).rule == "policy_broken"
    )
    assert binomtest(fewest, requests, 0.01, alternative="greater").pvalue <= alpha
    assert binomtest(fewest - 1, requests, 0.01, alternative="greater").pvalue > alpha


def test_healthy_counts_promote_after_the_bake_not_before() -> None:
    assert decide_canary(_counts(BAKED - 1, 2500, 12, 12), POLICY).rule == "baking"
    decision = decide_canary(_counts(BAKED, 3000, errors=15, slow=15), POLICY)
    assert (decision.action, decision.rule) == ("promote", "policy_holds")
    assert all(m.holds and m.upper_bound < 0.02 for m in decision.metrics)


def test_fewer_than_min_requests_never_promotes() -> None:
    policy = CanaryPolicy(min_requests=5000)
    assert decide_canary(_counts(BAKED, 3000), policy).action == "insufficient_traffic"


def test_undecided_evidence_extends_then_follows_the_limit_rule() -> None:
    # 1.5%: not shown above 1%, not shown below 2% with 600 requests.
    assert decide_canary(_counts(BAKED, 600, errors=9), POLICY).action == "extend"
    final = decide_canary(_counts(LAST, 600, errors=9), POLICY)
    assert (final.action, final.rule) == ("rollback", "extension_limit")


def test_alpha_spent_reaches_the_false_rollback_rate_at_the_last_look() -> None:
    assert decide_canary(_counts(1, 100), POLICY).alpha_spent == pytest.approx(0.05 / 12)
    assert decide_canary(_counts(LAST, 0), POLICY).alpha_spent == pytest.approx(0.05)


def _first(look: int, requests: int, rule: str, *, is_rule: bool = True) -> int:
    """The fewest errors (no slow requests) for which decide_canary's rule is (or, with
    is_rule=False, is not) `rule`; requests + 1 if none."""
    return next(
        (
            x
            for x in range(requests + 1)
            if (decide_canary(_counts(look, requests, errors=x), POLICY).rule == rule) == is_rule
        ),
        requests + 1,
    )


def _exact_outcomes(rate: float, per_period: int) -> tuple[float, float]:
    """Exact P(rolled back on evidence), P(promoted) over the K looks for a candidate whose
    error rate is `rate` and which has no slow requests, by dynamic programming over the
    cumulative error count; both boundaries are read from decide_canary itself."""
    size = LAST * per_period + 1
    alive = np.zeros(size)
    alive[0] = 1.0
    step = binom.pmf(np.arange(per_period + 1), per_period, rate)
    rolled_back = promoted = 0.0
    for look in range(1, LAST + 1):
        requests = look * per_period
        alive = np.convolve(alive, step)[:size]
        fewest = _first(look, requests, "policy_broken")
        rolled_back += alive[fewest:].sum()
        alive[fewest:] = 0.0
        if look >= BAKED:
            # Promotion holds from 0 errors up to the first count where it does not.
            holds_below = _first(look, requests, "policy_holds", is_rule=False)
            promoted += alive[:holds_below].sum()
            alive[:holds_below] = 0.0
    return float(rolled_back), float(promoted)


@pytest.mark.parametrize("per_period", [100, 500])
def test_false_rollback_rate_at_the_limit_is_at_most_alpha_exactly(per_period: int) -> None:
    """Across all K looks, a candidate exactly at the limit crosses one metric's boundary with
    probability <= alpha / 2: two metrics, <= alpha (union bound). Exact, no simulation."""
    rolled_back, _ = _exact_outcomes(0.01, per_period)
    assert rolled_back <= POLICY.false_rollback_rate / 2


@pytest.mark.parametrize("per_period", [100, 500])
def test_false_promotion_rate_at_the_minimum_effect_is_at_most_beta_exactly(
    per_period: int,
) -> None:
    """A candidate at minimum_effect x the limit is promoted with probability <= beta, even
    with a perfect latency record (exact, over every promotion look)."""
    _, promoted = _exact_outcomes(POLICY.minimum_effect * 0.01, per_period)
    assert promoted <= POLICY.false_promotion_rate


def test_power_at_five_times_the_limit_within_two_periods_of_500() -> None:
    alpha = rollback_alpha(POLICY)
    fewest = next(x for x in range(1001) if binomtest(x, 1000, 0.01, "greater").pvalue <= alpha)
    assert binom.sf(fewest - 1, 1000, 0.05) >= 0.99


def test_quality_gap_is_recorded_with_a_welch_interval() -> None:
    feedback = QualityFeedback(
        "accuracy",
        canary=FeedbackSummary(labelled=400, mean=0.90, variance=0.09),
        production=FeedbackSummary(labelled=900, mean=0.92, variance=0.0736),
    )
    gap = decide_canary(_counts(1, 100), POLICY, feedback).quality_gap
    assert gap is not None
    half = norm.ppf(0.975) * math.sqrt(0.09 / 400 + 0.0736 / 900)
    assert gap.gap == pytest.approx(-0.02)
    assert (gap.low, gap.high) == pytest.approx((-0.02 - half, -0.02 + half))


def test_no_quality_gap_without_labels_for_both_versions() -> None:
    feedback = QualityFeedback(
        "accuracy",
        canary=FeedbackSummary(labelled=0, mean=0.0, variance=0.0),
        production=FeedbackSummary(labelled=900, mean=0.92, variance=0.0736),
    )
    assert decide_canary(_counts(1, 100), POLICY, feedback).quality_gap is None
    assert decide_canary(_counts(1, 100), POLICY).quality_gap is None


def test_the_record_is_json_and_names_its_test() -> None:
    record = decide_canary(_counts(1, 10, errors=10), POLICY).as_record()
    decoded = json.loads(json.dumps(record))
    assert decoded["action"] == "rollback"
    assert decoded["metrics"][0]["broken"] is True
    assert decoded["metrics"][1]["broken"] is False
    assert "Clopper-Pearson" in decoded["test"]


@pytest.mark.parametrize(
    "fields",
    [
        {"requests": 5, "errors": 6, "slow_requests": 0},
        {"requests": 5, "errors": 0, "slow_requests": -1},
        {"requests": -1, "errors": 0, "slow_requests": 0},
    ],
)
def test_impossible_counts_are_refused(fields: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must be in|cannot be negative"):
        CanaryCounts(elapsed_minutes=5, **fields)


def test_feedback_summary_is_the_sample_mean_and_variance() -> None:
    correct = np.array([1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    summary = feedback_summary(correct)
    assert (summary.labelled, summary.mean) == (8, 0.75)
    assert summary.variance == pytest.approx(np.var(correct, ddof=1))
    assert feedback_summary([]) == FeedbackSummary(labelled=0, mean=0.0, variance=0.0)
    with pytest.raises(ValueError, match="finite"):
        feedback_summary([1.0, float("nan")])


# The reasons and figures `as_record()` carries: the registry records them and the alert quotes
# them, so each branch's exact text and every figure is part of the decision's contract.


def test_each_early_branch_states_its_exact_reason() -> None:
    failed = decide_canary(_counts(3, 500, load_failures=2), POLICY)
    assert (failed.reason, failed.load_failures) == ("the model failed to load (2x)", 2)
    first = decide_canary(_counts(0, 100), POLICY)
    assert (first.action, first.reason) == ("continue", "the first evaluation period has not ended")
    baking = decide_canary(_counts(BAKED - 1, 2500), POLICY)
    assert (baking.action, baking.rule) == ("continue", "baking")
    assert baking.reason == f"baking: look {BAKED - 1}, promotion from look {BAKED}"


def test_both_broken_metrics_are_named_in_the_rollback_reason() -> None:
    decision = decide_canary(_counts(1, 10, errors=10, slow=10), POLICY)
    assert (decision.action, decision.rule) == ("rollback", "policy_broken")
    bound = rollback_alpha(POLICY) ** (1 / 10)  # P(X = 10 | 10, p) = p^10 = alpha at the bound
    assert decision.reason == (
        f"error_rate 10/10: lower bound {bound:.4f} > limit 0.01; "
        f"slow_share 10/10: lower bound {bound:.4f} > limit 0.01"
    )


def test_insufficient_traffic_records_its_rule_and_reason() -> None:
    decision = decide_canary(_counts(BAKED, 50), POLICY)
    assert (decision.action, decision.rule) == ("insufficient_traffic", "insufficient_traffic")
    assert decision.reason == "insufficient traffic: 50 < min_requests 100; bake extended"
    final = decide_canary(_counts(LAST, 50), POLICY)
    assert final.reason == "insufficient traffic: 50 < min_requests 100 at the extension limit"


def test_min_requests_exactly_met_is_enough_to_promote() -> None:
    policy = CanaryPolicy(min_requests=3000)
    at = decide_canary(_counts(BAKED, 3000, errors=15, slow=15), policy)
    assert (at.action, at.rule) == ("promote", "policy_holds")
    below = decide_canary(_counts(BAKED, 2999, errors=15, slow=15), policy)
    assert (below.action, below.rule) == ("insufficient_traffic", "insufficient_traffic")


def test_min_requests_exactly_met_is_judged_on_the_bounds() -> None:
    """100 requests (the default min_requests) with no events: judged, not 'insufficient';
    the upper bound 1 - (beta/Kp)^(1/100) ~ 4.8% does not exclude 2%, so the bake extends."""
    decision = decide_canary(_counts(BAKED, 100), POLICY)
    assert (decision.action, decision.rule) == ("extend", "undecided")


def test_promotion_states_its_reason() -> None:
    decision = decide_canary(_counts(BAKED, 3000, errors=15, slow=15), POLICY)
    assert decision.reason == "upper bounds below minimum_effect x limit on both metrics"


def test_undecided_names_only_the_metrics_that_do_not_hold() -> None:
    # 9/600 errors: not shown below 2%; no slow requests: 0/600 is shown below 2%.
    one = decide_canary(_counts(BAKED, 600, errors=9), POLICY)
    errors, slow = one.metrics
    assert (one.action, one.rule, errors.holds, slow.holds) == ("extend", "undecided", False, True)
    assert one.reason == (
        f"undecided: error_rate upper bound {errors.upper_bound:.4f} >= 0.02; bake extended"
    )
    assert errors.upper_bound == pytest.approx(beta_upper(9, 600))


def test_undecided_on_both_metrics_names_both() -> None:
    both = decide_canary(_counts(BAKED, 600, errors=9, slow=9), POLICY)
    assert (both.action, both.rule) == ("extend", "undecided")
    bound = beta_upper(9, 600)
    assert both.reason == (
        f"undecided: error_rate upper bound {bound:.4f} >= 0.02; "
        f"slow_share upper bound {bound:.4f} >= 0.02; bake extended"
    )
    final = decide_canary(_counts(LAST, 600, errors=9, slow=9), POLICY)
    assert final.reason == (
        f"undecided: error_rate upper bound {bound:.4f} >= 0.02; "
        f"slow_share upper bound {bound:.4f} >= 0.02 at the extension limit"
    )


def beta_upper(events: int, requests: int) -> float:
    """The Clopper-Pearson upper bound at the promotion level, from scipy.stats."""
    return float(beta.ppf(1 - promotion_beta(POLICY), events + 1, requests - events))


def test_the_record_carries_the_plan_the_counts_and_each_level() -> None:
    record = decide_canary(_counts(BAKED, 3000, errors=15, slow=3), POLICY).as_record()
    assert {key: record[key] for key in ("look", "max_looks", "first_promotion_look")} == {
        "look": BAKED,
        "max_looks": LAST,
        "first_promotion_look": BAKED,
    }
    assert (record["requests"], record["load_failures"]) == (3000, 0)
    errors, slow = record["metrics"]
    assert (errors["events"], errors["rate"], slow["events"], slow["rate"]) == (15, 0.005, 3, 0.001)
    for row in (errors, slow):
        assert row["rollback_alpha"] == pytest.approx(0.05 / 24)
        assert row["promotion_beta"] == pytest.approx(0.05 / 7)
        assert (row["limit"], row["promotion_limit"]) == (0.01, 0.02)


def test_no_requests_record_a_rate_of_zero() -> None:
    decision = decide_canary(_counts(BAKED, 0), POLICY)
    assert [(m.events, m.requests, m.rate) for m in decision.metrics] == [(0, 0, 0.0)] * 2


@pytest.mark.parametrize(("elapsed", "look"), [(4.999999, 0), (5.0, 1), (9.999999, 1), (10.0, 2)])
def test_the_look_is_the_number_of_whole_periods_elapsed(elapsed: float, look: int) -> None:
    counts = CanaryCounts(requests=100, errors=0, slow_requests=0, elapsed_minutes=elapsed)
    assert decide_canary(counts, POLICY).look == look


@pytest.mark.parametrize("elapsed", [math.nan, math.inf])
def test_elapsed_minutes_must_be_finite(elapsed: float) -> None:
    with pytest.raises(ValueError, match="elapsed_minutes must be finite"):
        CanaryCounts(requests=1, errors=0, slow_requests=0, elapsed_minutes=elapsed)
