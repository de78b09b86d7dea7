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

The other functions' decisions are written the same way by mlops.outcome_metrics (kept out of
this module: the predict function compiles what it imports at every cold start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
