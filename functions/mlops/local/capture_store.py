"""The local stand-in for CloudWatch Logs -> Firehose -> S3: buffers capture records and
writes them to the capture bucket as JSON lines, partitioned like Firehose's prefix."""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from mlops.clients import client


def capture_key(model: str, when: datetime) -> str:
    """`capture/model=<m>/dt=<yyyy-mm-dd>/hour=<hh>/<uuid>.jsonl`, as the Firehose prefix."""
    return (
        f"capture/model={model}/dt={when:%Y-%m-%d}/hour={when:%H}/"
        f"{when:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.jsonl"
    )


class S3CaptureSink:
    """Collects records in memory and flushes them as one object per model and hour."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._buffer.append(record)

    def flush(self) -> int:
        with self._lock:
            records, self._buffer = self._buffer, []
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            groups[(record["model"], record["timestamp"][:13])].append(record)
        for (model, _), group in groups.items():
            when = datetime.fromisoformat(group[0]["timestamp"]).astimezone(UTC)
            body = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in group)
            client("s3").put_object(
                Bucket=self.bucket,
                Key=capture_key(model, when),
                Body=body.encode(),
                ContentType="application/x-ndjson",
            )
        return len(records)
