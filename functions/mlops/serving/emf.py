"""The predict route's CloudWatch metrics: one Embedded Metric Format line per request.

Why not Powertools' `Metrics` here (every other route uses it): on the predict path it cost
about 90 us per request in context on this project's machine (three `add_metric` calls, each
validating its unit and formatting a debug string, then a generic serialisation at flush),
more than half of the single-row budget (benchmarks/results/latest.md). The predict route
always sends the same three metrics with the same dimensions, so everything but the values
and the timestamp is fixed when the model loads, and a request only fills in four numbers.
The line is the EMF document Powertools would print for the same metrics (a unit test
compares the two), so dashboards, alarms and the rollout's latency reads see one format.

Dimension sets: (model, model_version, service), what dashboards, alarms and a model canary's
counts read, and (model, function_version, service), the executing function version that
Lambda sets in each version's environment (AWS_LAMBDA_FUNCTION_VERSION). A code canary pins
the same model version as production, so its counts are read by function version: by model
version they would include production's traffic. Both sets are fixed at load; CloudWatch
extracts one data point per metric and dimension set from the one line.

`OutcomeMetrics` is the same writer for what the other functions decide (a training run's
outcome, a drift verdict, a rollout transition, a shadow replay's divergence): one line per
decision, dimension set (model, service), so each model's dashboard and alarms read them.
Lines go to stdout (CloudWatch Logs extracts them on AWS) and to any subscriber: the local
stack subscribes its log-to-metric bridge (mlops.local.metrics_bridge), as CloudWatch Logs
would receive the line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

#: (name, CloudWatch unit) of each metric a served prediction request records.
PREDICT_METRICS = (
    ("requests", "Count"),
    ("rows", "Count"),
    ("model_latency", "Milliseconds"),
    # 1 when model_latency exceeds the spec's canary.max_p99_latency_ms: the count the rollout's
    # decision tests (p99 <= L exactly when at most 1% of requests take longer than L), which
    # CloudWatch's Sum gives on AWS and on moto alike (moto computes no percentiles, DESIGN §6).
    ("slow_requests", "Count"),
)


class PredictionMetrics:
    """Builds and emits the predict route's EMF line for one model version."""

    def __init__(
        self,
        namespace: str,
        dimensions: dict[str, str],
        emit: Callable[[str], None],
        slow_ms: float | None = None,
        more_dimensions: Sequence[dict[str, str]] = (),
    ) -> None:
        """`dimensions`: the first dimension set; `more_dimensions`: further sets (their values
        join the document's root, as Powertools' `add_dimensions` writes them)."""
        self._emit = emit
        self._slow_ms = float("inf") if slow_ms is None else slow_ms
        # POWERTOOLS_METRICS_DISABLED / POWERTOOLS_DEV, read as Powertools reads them.
        self.disabled = is_metrics_disabled()
        self._dimensions = dict(dimensions)
        for extra in more_dimensions:
            self._dimensions.update(extra)
        self._directive = [
            {
                "Namespace": namespace,
                "Dimensions": [list(dimensions), *(list(extra) for extra in more_dimensions)],
                # Standard resolution: no StorageResolution key (as Powertools writes it).
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in PREDICT_METRICS],
            }
        ]

    def document(self, rows: int, latency_ms: float, now: float | None = None) -> dict[str, Any]:
        """The EMF document of one request (`now`: epoch seconds, default the clock)."""
        timestamp = int((time.time() if now is None else now) * 1000)
        return {
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": self._directive},
            **self._dimensions,
            "requests": [1.0],
            "rows": [float(rows)],
            "model_latency": [float(latency_ms)],
            "slow_requests": [1.0 if latency_ms > self._slow_ms else 0.0],
        }

    def record(self, rows: int, latency_ms: float) -> None:
        """Emit one request's metrics (a single line: one log event for CloudWatch)."""
        if self.disabled:
            return
        self._emit(orjson.dumps(self.document(rows, latency_ms)).decode() + "\n")


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
