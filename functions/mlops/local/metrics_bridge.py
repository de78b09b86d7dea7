"""The local stand-in for CloudWatch Logs' EMF extraction: EMF lines -> `put_metric_data`.

On AWS, CloudWatch Logs turns every Embedded Metric Format line a function prints into metric
data points (one per dimension set). The local stack buffers the lines its environments write
and sends the same data points to moto's CloudWatch, asynchronously as AWS does, so the rollout
reconciler reads canary counts through the one CloudWatch adapter it uses on AWS.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

#: put_metric_data takes up to 1,000 data points per call.
BATCH = 1000


def metric_data(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, datum) for every metric of one EMF document, as CloudWatch Logs extracts."""
    directive = document.get("_aws") or {}
    timestamp = datetime.fromtimestamp(int(directive.get("Timestamp", 0)) / 1000, UTC)
    found = []
    for block in directive.get("CloudWatchMetrics", []):
        for dimension_set in block.get("Dimensions", []):
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in block.get("Metrics", []):
                values = document.get(metric["Name"])
                values = values if isinstance(values, list) else [values]
                datum: dict[str, Any] = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "Values": [float(v) for v in values],
                    "Unit": metric.get("Unit", "None"),
                }
                found.append((str(block["Namespace"]), datum))
    return found


class EmfToCloudWatch:
    """Collects EMF lines (`write`) and sends their data points to CloudWatch (`flush`)."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def flush(self) -> int:
        """Send what was written so far; the number of data points sent."""
        with self._lock:
            lines, self._lines = self._lines, []
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            try:
                document = json.loads(line)
            except ValueError:
                continue  # not an EMF line: CloudWatch Logs keeps it as a log event only
            for namespace, datum in metric_data(document):
                by_namespace.setdefault(namespace, []).append(datum)
        sent = 0
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), BATCH):
                batch = data[start : start + BATCH]
                self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
                sent += len(batch)
        return sent
