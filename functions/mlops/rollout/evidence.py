"""Where the rollout's evidence comes from: capture in S3 and metrics in CloudWatch.

Both are read the same way on AWS and on the local stack (which emulates what AWS does: its
capture sink writes the Firehose layout, and it turns the EMF lines the functions print into
`put_metric_data`, as CloudWatch Logs does), so the reconciler has no local branch.

- Shadow replay inputs: the newest captured requests of the production version that carry
  inputs (the spec's sampled share), with production's recorded outputs.
- Canary counts (`CloudWatchCanaryCounter`): served predictions (`requests`), 5xx answers
  (`unavailable_requests`), slow answers (`slow_requests`: the EMF line's 0/1 for model latency
  above the spec's `max_p99_latency_ms`; CloudWatch cannot count values above a bound in moto,
  and a percentile of a few hundred requests is no decision rule), failed model loads
  (`model_load_failed`, `model_artifact_integrity`); invalid outputs (non-finite numbers,
  labels outside the version's classes) counted from the capture records, which keep every
  request's outputs. A model canary's counts are read by `model_version` (its own model
  version serves nowhere else); a code canary's by its published `function_version` (the
  metrics' second dimension set, and the capture records' `function_version` field, both
  fixed when the environment loads), because it pins production's model version and counts by
  model version would mix production's much larger, healthy traffic into its own. Capture
  records without a `function_version` (written by code older than this field, which can only
  be production's, never a code canary's) are not counted for a code canary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from mlops.rollout.decision import CanaryCounts

CAPTURE_PREFIX = "capture/"
#: How far back shadow replay looks for captured inputs.
SHADOW_LOOKBACK_DAYS = 7
NAMESPACE = "ServerlessMlops"
COUNTED_METRICS = (
    "requests",
    "unavailable_requests",
    "slow_requests",
    # PredictionService counts a failed load once per environment, by its cause.
    "model_load_failed",
    "model_artifact_integrity",
)


@dataclass(frozen=True)
class CapturedRequest:
    """One captured prediction request: its inputs (if sampled) and the outputs it got."""

    model_version: int
    timestamp: str
    inputs: list[dict[str, Any]] | None
    outputs: list[Any]


class CaptureReader:
    """Reads capture records (`capture/model=<m>/dt=<d>/hour=<h>/*.jsonl`) from S3."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def _keys(self, model: str, day: datetime) -> list[str]:
        prefix = f"{CAPTURE_PREFIX}model={model}/dt={day:%Y-%m-%d}/"
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def _records(self, key: str) -> Iterator[dict[str, Any]]:
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode()
        for line in body.splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("kind") == "prediction":
                    yield record

    def newest(self, model: str, version: int, limit: int, now: datetime) -> list[CapturedRequest]:
        """Up to `limit` rows' worth of the newest requests of `version` that carry inputs."""
        found: list[CapturedRequest] = []
        rows = 0
        for back in range(SHADOW_LOOKBACK_DAYS + 1):
            for key in reversed(self._keys(model, now - timedelta(days=back))):
                records = [r for r in self._records(key) if r.get("model_version") == version]
                for record in reversed(records):
                    if record.get("inputs") is None:
                        continue
                    found.append(_captured(record))
                    rows += len(record["inputs"])
                    if rows >= limit:
                        return found
        return found

    def since(
        self,
        model: str,
        version: int,
        start: datetime,
        now: datetime,
        function_version: str | None = None,
    ) -> list[Any]:
        """The outputs of every request `version` answered since `start` (one list per request);
        with `function_version`, only the requests that function version answered."""
        outputs: list[Any] = []
        day = start
        while day.date() <= now.date():
            for key in self._keys(model, day):
                for record in self._records(key):
                    if record.get("model_version") != version:
                        continue
                    if (
                        function_version is not None
                        and record.get("function_version") != function_version
                    ):
                        continue
                    if datetime.fromisoformat(record["timestamp"]) >= start:
                        outputs.append(record.get("outputs") or [])
            day += timedelta(days=1)
        return outputs


def _captured(record: dict[str, Any]) -> CapturedRequest:
    return CapturedRequest(
        model_version=int(record["model_version"]),
        timestamp=str(record["timestamp"]),
        inputs=record.get("inputs"),
        outputs=list(record.get("outputs") or []),
    )


def output_validator(task: str, classes: list[Any]) -> Callable[[Any], bool]:
    """True for an output a version may give: a finite number (regressors) or one of its classes
    (classifiers; compared as text, as JSON may turn labels into numbers)."""
    if task == "classification" and classes:
        allowed = {str(label) for label in classes}
        return lambda value: str(value) in allowed

    def finite(value: Any) -> bool:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )

    return finite


class CanaryCounter(Protocol):
    """The canary's cumulative counts since `start` (what `decide_canary` reads): of its model
    version, or with `function_version` (a code canary) of that function version only."""

    def counts(
        self,
        model: str,
        model_version: int,
        start: float,
        now: float,
        elapsed_minutes: float,
        valid_output: Callable[[Any], bool],
        function_version: str | None = None,
    ) -> CanaryCounts: ...


class CloudWatchCanaryCounter:
    """Counts from CloudWatch (Sum of our EMF metrics by model and model_version, or by model
    and function_version for a code canary) and capture."""

    def __init__(self, cloudwatch: Any, capture: CaptureReader, namespace: str = NAMESPACE):
        self._cloudwatch = cloudwatch
        self._capture = capture
        self._namespace = namespace

    def metric_sums(
        self,
        model: str,
        model_version: int,
        start: float,
        now: float,
        function_version: str | None = None,
    ) -> dict[str, int]:
        """Sums by (model, model_version, service), or by (model, function_version, service)
        when `function_version` is given: the two dimension sets the predict function writes."""
        dimensions = [
            {"Name": "model", "Value": model},
            (
                {"Name": "model_version", "Value": str(model_version)}
                if function_version is None
                else {"Name": "function_version", "Value": function_version}
            ),
            {"Name": "service", "Value": "predict"},
        ]
        begin = datetime.fromtimestamp(start - 60, UTC).replace(second=0, microsecond=0)
        end = datetime.fromtimestamp(now + 120, UTC)
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": self._namespace,
                        "MetricName": name,
                        "Dimensions": dimensions,
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for index, name in enumerate(COUNTED_METRICS)
        ]
        sums = dict.fromkeys(COUNTED_METRICS, 0)
        paginator = self._cloudwatch.get_paginator("get_metric_data")
        for page in paginator.paginate(MetricDataQueries=queries, StartTime=begin, EndTime=end):
            for result in page["MetricDataResults"]:
                name = COUNTED_METRICS[int(result["Id"][1:])]
                sums[name] += round(sum(result.get("Values", [])))
        return sums

    def counts(
        self,
        model: str,
        model_version: int,
        start: float,
        now: float,
        elapsed_minutes: float,
        valid_output: Callable[[Any], bool],
        function_version: str | None = None,
    ) -> CanaryCounts:
        sums = self.metric_sums(model, model_version, start, now, function_version)
        answered = self._capture.since(
            model,
            model_version,
            datetime.fromtimestamp(start, UTC),
            datetime.fromtimestamp(now, UTC),
            function_version,
        )
        invalid = sum(1 for outputs in answered if not all(valid_output(o) for o in outputs))
        served = sums["requests"]
        requests = served + sums["unavailable_requests"]
        return CanaryCounts(
            requests=requests,
            errors=min(requests, sums["unavailable_requests"] + min(invalid, served)),
            slow_requests=min(requests, sums["slow_requests"]),
            elapsed_minutes=elapsed_minutes,
            load_failures=sums["model_load_failed"] + sums["model_artifact_integrity"],
        )
