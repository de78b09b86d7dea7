"""The predict route's hand-built EMF line is the document Powertools would print."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mlops.serving.emf import PredictionMetrics

DIMENSIONS = {"model": "iris", "model_version": "3", "service": "predict"}
# The executing function version's own set (a code canary is counted by it).
FUNCTION_DIMENSIONS = {"model": "iris", "function_version": "7", "service": "predict"}
# The documented contract (README, dashboards, the rollout's latency reads), written out here
# rather than taken from the module's own constant, so a changed unit fails these tests.
DOCUMENTED_UNITS = {
    "requests": "Count",
    "rows": "Count",
    "model_latency": "Milliseconds",
    "slow_requests": "Count",
}


def test_document_matches_powertools_serialisation() -> None:
    # Powertools' Metrics objects share one process-wide state: leave it as found.
    powertools = Metrics(namespace="ServerlessMlops", service="predict")
    try:
        powertools.add_dimension(name="model", value="iris")
        powertools.add_dimension(name="model_version", value="3")
        powertools.add_dimensions(**FUNCTION_DIMENSIONS)
        values = {"requests": 1, "rows": 7, "model_latency": 0.0421, "slow_requests": 0}
        for name, unit in DOCUMENTED_UNITS.items():
            powertools.add_metric(name=name, unit=MetricUnit(unit), value=values[name])
        powertools.set_timestamp(1_795_000_000_123)
        expected = powertools.serialize_metric_set()
    finally:
        powertools.clear_metrics()

    ours = PredictionMetrics(
        "ServerlessMlops",
        DIMENSIONS,
        emit=lambda _: None,
        more_dimensions=(FUNCTION_DIMENSIONS,),
    ).document(rows=7, latency_ms=0.0421, now=1_795_000_000.123)

    assert ours == expected
    document: dict[str, Any] = dict(ours)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["model", "model_version", "service"],
        ["model", "function_version", "service"],
    ]
    assert (document["model_version"], document["function_version"]) == ("3", "7")


def test_one_dimension_set_matches_powertools_too() -> None:
    powertools = Metrics(namespace="ServerlessMlops", service="predict")
    try:
        powertools.add_dimension(name="model", value="iris")
        powertools.add_dimension(name="model_version", value="3")
        values = {"requests": 1, "rows": 1, "model_latency": 1.0, "slow_requests": 0}
        for name, unit in DOCUMENTED_UNITS.items():
            powertools.add_metric(name=name, unit=MetricUnit(unit), value=values[name])
        powertools.set_timestamp(1_795_000_000_000)
        expected = powertools.serialize_metric_set()
    finally:
        powertools.clear_metrics()
    ours = PredictionMetrics("ServerlessMlops", DIMENSIONS, emit=lambda _: None).document(
        rows=1, latency_ms=1.0, now=1_795_000_000
    )
    assert ours == expected


def test_record_emits_one_json_line_per_request() -> None:
    lines: list[str] = []
    metrics = PredictionMetrics("ServerlessMlops", DIMENSIONS, emit=lines.append)
    metrics.record(rows=2, latency_ms=0.5)
    metrics.record(rows=1000, latency_ms=9.25)
    assert len(lines) == 2 and all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    second = json.loads(lines[1])
    assert (second["rows"], second["model_latency"], second["requests"]) == (
        [1000.0],
        [9.25],
        [1.0],
    )
    directive = second["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["model", "model_version", "service"]]
    assert [(m["Name"], m["Unit"]) for m in directive["Metrics"]] == list(DOCUMENTED_UNITS.items())


def test_powertools_switch_turns_the_line_off(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    PredictionMetrics("ServerlessMlops", DIMENSIONS, emit=lines.append).record(1, 0.1)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    PredictionMetrics("ServerlessMlops", DIMENSIONS, emit=lines.append).record(1, 0.1)
    assert len(lines) == 1


def test_slow_requests_counts_latency_above_the_canary_limit() -> None:
    metrics = PredictionMetrics("ServerlessMlops", DIMENSIONS, emit=lambda _: None, slow_ms=100)
    assert metrics.document(rows=1, latency_ms=100.0)["slow_requests"] == [0.0]
    assert metrics.document(rows=1, latency_ms=100.5)["slow_requests"] == [1.0]


def test_local_bridge_publishes_every_dimension_set() -> None:
    """The local stack's CloudWatch Logs stand-in extracts one data point per metric and
    dimension set, as AWS does: the function-version set is readable on moto too."""
    from mlops.local.metrics_bridge import metric_data

    document = PredictionMetrics(
        "ServerlessMlops", DIMENSIONS, emit=lambda _: None, more_dimensions=(FUNCTION_DIMENSIONS,)
    ).document(rows=2, latency_ms=1.0)
    found = metric_data(json.loads(json.dumps(document)))
    by_set: dict[tuple[tuple[str, str], ...], set[str]] = {}
    for namespace, datum in found:
        assert namespace == "ServerlessMlops"
        key = tuple((d["Name"], d["Value"]) for d in datum["Dimensions"])
        by_set.setdefault(key, set()).add(datum["MetricName"])
    assert by_set == {
        tuple(DIMENSIONS.items()): set(DOCUMENTED_UNITS),
        tuple(FUNCTION_DIMENSIONS.items()): set(DOCUMENTED_UNITS),
    }
