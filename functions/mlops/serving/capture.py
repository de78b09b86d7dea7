"""Capture for monitoring, without a network round trip on the hot path.

Every request's id, serving model version, function version and predictions are kept
(feedback joins on the request id); full inputs only for a sampled share of requests (the
spec's `capture_sample_rate`).
On AWS the sink writes one JSON line to stdout: Lambda ships it to CloudWatch Logs
synchronously with the invocation (nothing is lost when the environment is frozen or shut
down), and a subscription filter on `$.capture` forwards it to Firehose, which lands it in S3
partitioned by model/date/hour. The local stack plugs in a sink that writes the same records
to the capture bucket.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson


class CaptureSink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...


class StdoutCaptureSink:
    """One JSON line per record on stdout (CloudWatch Logs -> subscription -> Firehose -> S3)."""

    def write(self, record: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(record, default=str).decode()
        except TypeError:  # what orjson cannot write (an integer beyond 64 bits): the slow way
            line = json.dumps(record, separators=(",", ":"), default=str)
        sys.stdout.write(line + "\n")


def capture_record(
    kind: str,
    model: str,
    version: int,
    request_id: str,
    payload: dict[str, Any],
    function_version: str | None = None,
) -> dict[str, Any]:
    """`function_version`: the executing function version (fixed at load), by which a code
    canary's invalid outputs are counted (its model version is production's)."""
    return {
        "capture": True,
        "kind": kind,
        "model": model,
        "model_version": version,
        "function_version": function_version,
        "request_id": request_id,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **payload,
    }


def should_sample(rate: float) -> bool:
    return rate > 0 and (rate >= 1 or random.random() < rate)
