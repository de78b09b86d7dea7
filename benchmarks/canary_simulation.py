"""The canary decision rule's error rates and power, by simulation (DESIGN §7).

Each simulated canary draws, per evaluation period, its requests' errors and slow requests as
independent binomials at the scenario's true rates, and calls the real
`mlops.rollout.decision.decide_canary` with the cumulative counts at every look, until it
returns a final action (the last look always does). Policy: the spec's defaults with
`max_error_rate` = 0.01 (slow-share limit 1%: p99), 30 minutes' bake in 5-minute periods, up to
30 minutes' extension. Seeded: every scenario x traffic cell has its own generator, so a cell's
numbers do not depend on which other cells ran.

Targets (issue #12), at 500 canary requests per period: a broken candidate (errors at 5x the
policy, or 5% of requests over the latency limit) rolled back within two periods in >= 99% of
runs; a healthy one (0.5% errors, 0.5% slow) rolled back in <= 5%. Also reported at 100 and
2,000 requests per period, with a candidate exactly at the limit (the worst case the false
rollback rate is stated for) and the traffic a bad candidate received before its rollback.
Rates carry 95% Wilson intervals (200 runs: about +-1.5 points near 1%).

Usage: python -m benchmarks.canary_simulation [--runs N] [--seed S] [--no-write]
(writes benchmarks/results/canary_simulation.{json,md} unless --no-write; `make bench` runs it
too and adds it to latest.{json,md}).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops.rollout.bounds import wilson_interval
from mlops.rollout.decision import CanaryCounts, decide_canary, look_plan
from mlops.spec.model import CanaryPolicy

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 20261130
RUNS = 200
PERIOD_REQUESTS = (100, 500, 2000)
HEADLINE_REQUESTS = 500
ROLLBACK_WITHIN_LOOKS = 2
MIN_ROLLBACK_WITHIN_TWO = 0.99
MAX_FALSE_ROLLBACK = 0.05
POLICY = CanaryPolicy(max_error_rate=0.01)


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    error_rate: float
    slow_rate: float
    broken: bool


SCENARIOS = (
    Scenario("healthy", "healthy: 0.5% errors, 0.5% slow (half the policy)", 0.005, 0.005, False),
    Scenario("at_limit", "at the limit: 1% errors, 1% slow", 0.01, 0.01, False),
    Scenario(
        "minimum_effect", "at the minimum effect: 2% errors (2x), 0.5% slow", 0.02, 0.005, True
    ),
    Scenario("errors_5x", "broken: 5% errors (5x the policy), 0.5% slow", 0.05, 0.005, True),
    Scenario("slow_5pct", "broken: 0.5% errors, 5% slow (p99 over the limit)", 0.005, 0.05, True),
)


@dataclass(frozen=True)
class Outcome:
    action: str
    rule: str
    look: int
    requests: int


def simulate_canary(
    rng: np.random.Generator,
    policy: CanaryPolicy,
    requests_per_period: int,
    error_rate: float,
    slow_rate: float,
) -> Outcome:
    """One canary, looked at once per period until the decision is final."""
    requests = errors = slow = 0
    for look in range(1, look_plan(policy).max_looks + 1):
        requests += requests_per_period
        errors += int(rng.binomial(requests_per_period, error_rate))
        slow += int(rng.binomial(requests_per_period, slow_rate))
        counts = CanaryCounts(
            requests=requests,
            errors=errors,
            slow_requests=slow,
            elapsed_minutes=look * policy.evaluation_minutes,
        )
        decision = decide_canary(counts, policy)
        if decision.final:
            return Outcome(decision.action, decision.rule, look, requests)
    raise AssertionError("the last look must decide")  # decide_canary's contract


def _rate(events: int, runs: int) -> dict[str, float]:
    low, high = wilson_interval(events, runs)
    return {"count": events, "rate": events / runs, "low": low, "high": high}


def run_cell(
    scenario: Scenario, requests_per_period: int, runs: int, seed: int, policy: CanaryPolicy
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario), requests_per_period])
    outcomes = [
        simulate_canary(rng, policy, requests_per_period, scenario.error_rate, scenario.slow_rate)
        for _ in range(runs)
    ]
    actions = Counter(outcome.action for outcome in outcomes)
    # Rolled back on evidence (the test), not for want of it at the extension limit.
    rolled_back = [outcome for outcome in outcomes if outcome.rule == "policy_broken"]
    at_limit = sum(outcome.rule == "extension_limit" for outcome in outcomes)
    early = sum(outcome.look <= ROLLBACK_WITHIN_LOOKS for outcome in rolled_back)
    traffic = np.array([outcome.requests for outcome in rolled_back], dtype=float)
    return {
        "scenario": scenario.name,
        "label": scenario.label,
        "requests_per_period": requests_per_period,
        "runs": runs,
        "rollback": _rate(len(rolled_back), runs),
        "rollback_any": _rate(actions["rollback"], runs),
        "rollback_at_extension_limit": _rate(at_limit, runs),
        "rollback_within_two_periods": _rate(early, runs),
        "promote": _rate(actions["promote"], runs),
        "mean_looks_to_decision": float(np.mean([outcome.look for outcome in outcomes])),
        "requests_before_rollback": (
            {
                "mean": float(traffic.mean()),
                "median": float(np.median(traffic)),
                "p95": float(np.percentile(traffic, 95)),
            }
            if len(traffic)
            else None
        ),
    }


def run_simulation(
    runs: int = RUNS,
    seed: int = SEED,
    period_requests: tuple[int, ...] = PERIOD_REQUESTS,
    policy: CanaryPolicy = POLICY,
) -> dict[str, Any]:
    started = time.perf_counter()
    plan = look_plan(policy)
    cells = [
        run_cell(scenario, size, runs, seed, policy)
        for size in period_requests
        for scenario in SCENARIOS
    ]
    return {
        "seed": seed,
        "runs": runs,
        "policy": policy.model_dump(exclude={"shadow"}),
        "max_looks": plan.max_looks,
        "first_promotion_look": plan.first_promotion_look,
        "cells": cells,
        "seconds": round(time.perf_counter() - started, 2),
    }


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets at 500 requests per period, judged on the point estimate."""
    targets = []
    for cell in results["cells"]:
        if cell["requests_per_period"] != HEADLINE_REQUESTS or cell["scenario"] in (
            "at_limit",
            "minimum_effect",
        ):
            continue
        if cell["scenario"] == "healthy":
            # Every rollback counts against a healthy canary, on evidence or at the limit.
            rate = cell["rollback_any"]["rate"]
            targets.append(
                {
                    "target": f"healthy canary (0.5% errors, 0.5% slow), {HEADLINE_REQUESTS} "
                    f"requests/period: false rollbacks <= {MAX_FALSE_ROLLBACK:.0%}",
                    "measured": _pct(cell["rollback_any"]),
                    "pass": rate <= MAX_FALSE_ROLLBACK,
                    "headline": True,
                }
            )
        else:
            rate = cell["rollback_within_two_periods"]["rate"]
            targets.append(
                {
                    "target": f"{cell['label']}, {HEADLINE_REQUESTS} requests/period: rolled "
                    f"back within two periods >= {MIN_ROLLBACK_WITHIN_TWO:.0%}",
                    "measured": _pct(cell["rollback_within_two_periods"]),
                    "pass": rate >= MIN_ROLLBACK_WITHIN_TWO,
                    "headline": True,
                }
            )
    return targets


def _pct(rate: dict[str, float]) -> str:
    return f"{rate['rate']:.1%} [{rate['low']:.1%}, {rate['high']:.1%}]"


def render_markdown(results: dict[str, Any]) -> str:
    policy = results["policy"]
    lines = [
        "",
        "## Canary decisions: error rates by simulation",
        "",
        f"{results['runs']} simulated canaries per cell, seed {results['seed']}, through "
        "`mlops.rollout.decision.decide_canary`; policy max_error_rate "
        f"{policy['max_error_rate']}, slow-share limit 1% (p99), bake {policy['bake_minutes']} "
        f"min in {policy['evaluation_minutes']}-min periods (+ up to "
        f"{policy['max_extension_minutes']} min extension: K = {results['max_looks']} looks, "
        f"promotion from look {results['first_promotion_look']}), alpha "
        f"{policy['false_rollback_rate']}, beta {policy['false_promotion_rate']}, minimum effect "
        f"{policy['minimum_effect']}x. Rates with 95% Wilson intervals. Took "
        f"{results['seconds']} s.",
        "",
        "| Scenario | Requests/period | Rolled back on evidence | ... within 2 periods "
        "| Undecided at the extension limit: rolled back | Promoted "
        "| Requests before a rollback on evidence: mean / median / p95 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in results["cells"]:
        traffic = cell["requests_before_rollback"]
        traffic_text = (
            f"{traffic['mean']:.0f} / {traffic['median']:.0f} / {traffic['p95']:.0f}"
            if traffic
            else "-"
        )
        lines.append(
            f"| {cell['label']} | {cell['requests_per_period']} | {_pct(cell['rollback'])} "
            f"| {_pct(cell['rollback_within_two_periods'])} "
            f"| {_pct(cell['rollback_at_extension_limit'])} | {_pct(cell['promote'])} "
            f"| {traffic_text} |"
        )
    lines += ["", "| Target | Measured | Result |", "|---|---|---|"]
    for target in evaluate_targets(results):
        lines.append(
            f"| {target['target']} | {target['measured']} | "
            f"{'PASS' if target['pass'] else '**MISS**'} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_results(results: dict[str, Any], directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "canary_simulation.json").write_text(json.dumps(results, indent=2) + "\n")
    (directory / "canary_simulation.md").write_text(render_markdown(results).lstrip("\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="canary decision rule by simulation")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results = run_simulation(runs=args.runs, seed=args.seed)
    markdown = render_markdown(results)
    if not args.no_write:
        write_results(results, RESULTS_DIR)
    print(markdown)
    return 0 if all(target["pass"] for target in evaluate_targets(results)) else 1


if __name__ == "__main__":
    sys.exit(main())
