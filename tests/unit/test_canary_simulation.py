"""A bounded, seeded run of the benchmark's canary simulation: the issue's targets hold.

Seeded, so the numbers are fixed; the margins are wide anyway (80 runs, not 200) so that a
change of seed or of numpy's generator cannot make it flake while the rule is sound.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import canary_simulation
from mlops.rollout.decision import CanaryDecision

SCENARIOS = {scenario.name: scenario for scenario in canary_simulation.SCENARIOS}
RUNS = 80


def _cell(name: str, per_period: int = 500) -> dict:
    return canary_simulation.run_cell(
        SCENARIOS[name], per_period, RUNS, canary_simulation.SEED, canary_simulation.POLICY
    )


def test_a_healthy_canary_is_promoted_and_rarely_rolled_back() -> None:
    cell = _cell("healthy")
    assert cell["rollback_any"]["rate"] <= 0.05
    assert cell["promote"]["rate"] >= 0.9


@pytest.mark.parametrize("name", ["errors_5x", "slow_5pct"])
def test_a_broken_canary_is_rolled_back_within_two_periods(name: str) -> None:
    cell = _cell(name)
    assert cell["rollback_within_two_periods"]["rate"] >= 0.95
    assert cell["requests_before_rollback"]["p95"] <= 1000


def test_a_canary_at_the_limit_is_rarely_rolled_back_on_evidence() -> None:
    assert _cell("at_limit")["rollback"]["rate"] <= 0.1


def test_the_simulation_calls_the_real_decision_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = canary_simulation.decide_canary

    def spy(*args: object, **kwargs: object) -> CanaryDecision:
        decision = real(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(decision.look)
        return decision

    monkeypatch.setattr(canary_simulation, "decide_canary", spy)
    outcome = canary_simulation.simulate_canary(
        np.random.default_rng(0), canary_simulation.POLICY, 500, 0.05, 0.005
    )
    assert outcome.action == "rollback"
    assert calls == [outcome.look]


def test_targets_and_report_name_every_cell() -> None:
    results = canary_simulation.run_simulation(runs=10, period_requests=(500,))
    assert len(results["cells"]) == len(SCENARIOS)
    assert len(canary_simulation.evaluate_targets(results)) == 3
    markdown = canary_simulation.render_markdown(results)
    assert all(scenario.label in markdown for scenario in SCENARIOS.values())
