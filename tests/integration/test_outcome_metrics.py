"""Training outcomes, drift verdicts and rollout transitions reach CloudWatch as metrics.

Each is written by the domain code as an EMF line (mlops.outcome_metrics.OutcomeMetrics), through
the real handler, and turned into data points in moto's CloudWatch by the local stack's
log-to-metric bridge (as CloudWatch Logs does on AWS). The dashboards and alarms read these
names (tests/infra/test_monitoring.py checks they are the declared ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlops.clients import client
from mlops.examples import iris_csv
from mlops.local.metrics_bridge import EmfToCloudWatch
from mlops.outcome_metrics import DEFAULT_NAMESPACE, subscribe_log_lines
from tests.integration.conftest import TrainingStack, lambda_context
from tests.integration.rollout_harness import RolloutHarness, use_test_canary_policy
from tests.integration.test_drift_check import HOUR, drift_stack, land_capture, run_check, traffic

__all__ = ["drift_stack"]  # a fixture, used by name below


@pytest.fixture
def bridge() -> Iterator[EmfToCloudWatch]:
    """What CloudWatch Logs does with the functions' EMF lines, against moto."""
    emf = EmfToCloudWatch(client("cloudwatch"))
    unsubscribe = subscribe_log_lines(emf.write)
    yield emf
    unsubscribe()


def metric(model: str, service: str, name: str, statistic: str = "Sum") -> float | None:
    """The metric's statistic over the last day (None: no data point at all)."""
    now = datetime.now(UTC)
    points = client("cloudwatch").get_metric_statistics(
        Namespace=DEFAULT_NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": "model", "Value": model}, {"Name": "service", "Value": service}],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(minutes=5),
        Period=86_400,
        Statistics=[statistic],
    )["Datapoints"]
    if not points:
        return None
    return float(sum(point[statistic] for point in points))


def train(training: TrainingStack, key: str, body: bytes) -> None:
    from train.handler import handler

    training.upload(key, body)
    handler(training.receive_event(), lambda_context("mlops-train"))


def test_training_outcomes_are_counted_per_model(
    training_stack: TrainingStack, bridge: EmfToCloudWatch
) -> None:
    header = iris_csv().decode().splitlines()[0]
    without_target = ",".join(header.split(",")[:-1])
    train(training_stack, "training/iris/bad.csv", f"{without_target}\n1,2,3,4\n".encode())
    train(training_stack, "training/iris/good.csv", iris_csv())
    assert bridge.flush() > 0
    assert metric("iris", "train", "training_runs") == 2
    assert metric("iris", "train", "training_failed") == 1
    assert metric("iris", "train", "training_succeeded") == 1
    assert metric("iris", "train", "training_rejected") == 0


def test_drift_verdicts_are_counted_and_inconclusive_checks_write_no_verdict(
    drift_stack: TrainingStack, bridge: EmfToCloudWatch
) -> None:
    land_capture(drift_stack, traffic(1500, seed=3, shift={"bmi": 0.8, "s5": -0.8}))
    run_check(HOUR)
    land_capture(drift_stack, traffic(50, seed=4))  # too few rows: insufficient data
    run_check(HOUR + timedelta(hours=1))
    bridge.flush()
    assert metric("diabetes", "drift", "drift_checks") == 2
    # One verdict point (the drifted check): the inconclusive one neither raises nor clears.
    assert metric("diabetes", "drift", "drift_detected", "SampleCount") == 1
    assert metric("diabetes", "drift", "drift_detected", "Maximum") == 1


@pytest.fixture
def rollout(
    training_stack: TrainingStack, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> RolloutHarness:
    use_test_canary_policy(specs_dir)
    monkeypatch.delenv("MLOPS_LOCAL_FAULTS", raising=False)
    return RolloutHarness(training_stack, monkeypatch)


def test_rollback_canary_start_and_shadow_divergence_are_counted(
    rollout: RolloutHarness, bridge: EmfToCloudWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    production = rollout.alias()[0]
    assert rollout.send(production, 60) == [200] * 60
    assert rollout.train() == 2
    rollout.reconcile()  # shadow replay on the captured inputs, then the canary starts
    canary = next(iter(rollout.alias()[1]))
    monkeypatch.setenv("MLOPS_LOCAL_FAULTS", "iris:2=error")
    assert rollout.send(canary, 12) == [500] * 12
    rollout.clock.advance(5.5)
    rollout.reconcile()
    assert rollout.status(2) == "rolled_back"
    bridge.flush()
    assert metric("iris", "rollout", "rollbacks") == 1
    assert metric("iris", "rollout", "canary_starts") == 1
    assert metric("iris", "rollout", "shadow_replays") == 1
    assert metric("iris", "rollout", "shadow_diverged") == 0
    # v2 retrained on the same data: a flip rate, measured on the replayed inputs.
    divergence = metric("iris", "rollout", "shadow_divergence", "Maximum")
    assert divergence is not None and 0 <= divergence <= 0.05
