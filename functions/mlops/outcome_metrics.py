"""What the train, drift and rollout functions decide, as CloudWatch metrics (EMF lines).

One line per decision (a training run's outcome, a drift verdict, a rollout transition, a
shadow replay's divergence), dimension set (model, service), so each model's dashboard and
alarms (infra/monitoring.py) read them. The document is the one Powertools would print (a unit
test compares them), as the predict route's own line is (mlops.serving.emf). Lines go to
stdout (CloudWatch Logs extracts them on AWS) and to any subscriber: the local stack subscribes
its log-to-metric bridge (mlops.local.metrics_bridge), as CloudWatch Logs receives the line.
Not imported by the predict function.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

#: The namespace every metric of this project is written to (the functions' default).
DEFAULT_NAMESPACE = "ServerlessMlops"

#: (name -> CloudWatch unit) of each outcome metric, by the service that writes it. The names
#: are the contract the dashboards and alarms read (infra/monitoring.py).
OUTCOME_METRICS: dict[str, dict[str, str]] = {
    "train": {
        "training_runs": "Count",
        "training_succeeded": "Count",
        "training_rejected": "Count",
        "training_failed": "Count",
    },
    "drift": {
        "drift_checks": "Count",
        # 1 for a check whose verdict is drift, 0 for no drift; absent when data was
        # insufficient (such a check neither raises nor clears the drift state).
        "drift_detected": "Count",
        "quality_degraded": "Count",
    },
    "rollout": {
        "rollbacks": "Count",
        "promotions": "Count",
        "canary_starts": "Count",
        "shadow_replays": "Count",
        # Class-flip rate (classifiers) or relative error (regressors) of a shadow replay.
        "shadow_divergence": "None",
        "shadow_diverged": "Count",
    },
}

_subscribers: list[Callable[[str], None]] = []
_subscribers_lock = threading.Lock()


def subscribe_log_lines(sink: Callable[[str], None]) -> Callable[[], None]:
    """Also send every outcome line to `sink`; returns the call that stops it."""
    with _subscribers_lock:
        _subscribers.append(sink)

    def unsubscribe() -> None:
        with _subscribers_lock:
            if sink in _subscribers:
                _subscribers.remove(sink)

    return unsubscribe


def write_log_line(line: str) -> None:
    """What a function prints: stdout, and each subscriber (the local stack's bridge)."""
    sys.stdout.write(line)
    with _subscribers_lock:
        sinks = list(_subscribers)
    for sink in sinks:
        sink(line)


class OutcomeMetrics:
    """One EMF line per decision of `service` ("train", "drift" or "rollout") for a model."""

    def __init__(
        self,
        service: str,
        namespace: str = DEFAULT_NAMESPACE,
        emit: Callable[[str], None] = write_log_line,
    ) -> None:
        if service not in OUTCOME_METRICS:
            raise ValueError(f"no outcome metrics are declared for service '{service}'")
        self.service = service
        self.namespace = namespace
        self._units = OUTCOME_METRICS[service]
        self._emit = emit

    def document(
        self, model: str, values: Mapping[str, float], now: float | None = None
    ) -> dict[str, Any]:
        """The EMF document of one decision; a name this service does not declare raises
        ValueError (a typo would otherwise be a metric no dashboard reads)."""
        unknown = sorted(set(values) - set(self._units))
        if unknown:
            raise ValueError(f"{self.service} declares no metric(s) {unknown}")
        timestamp = int((time.time() if now is None else now) * 1000)
        return {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["model", "service"]],
                        "Metrics": [{"Name": n, "Unit": self._units[n]} for n in values],
                    }
                ],
            },
            "model": model,
            "service": self.service,
            **{name: [float(value)] for name, value in values.items()},
        }

    def record(self, model: str, values: Mapping[str, float]) -> None:
        """Emit one decision's metrics as one line (nothing when metrics are disabled)."""
        if not values or is_metrics_disabled():
            return
        self._emit(orjson.dumps(self.document(model, values)).decode() + "\n")
