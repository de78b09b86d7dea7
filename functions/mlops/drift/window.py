"""The captured window of one check: capture objects compacted once into Parquet, then read.

Capture lands as JSON lines under `capture/model=<m>/dt=<d>/hour=<h>/` (Firehose on AWS, the
local sink locally). Each capture object is immutable once written, so it is compacted exactly
once (per serving version) into `compacted/model=<m>/version=<v>/<same tail>.parquet` files and
never parsed again: the JSON is read by the first check that sees the object, every later check
(and every report) reads the Parquet. Compacting per object rather than per closed hour lets a
check cut its window at "since the last completed check" without waiting for the hour to close
and without re-parsing the open hour (Firehose writes at most one object per buffer interval, so
an hour has tens of objects, not thousands).

Besides `compact_capture`'s feature and prediction columns, each object keeps the request ids
with their predictions and the feedback it carried, the two sides of the quality join.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from mlops.drift.columnar import compact_capture, read_columns
from mlops.drift.columns import Columns
from mlops.spec import ModelSpec

CAPTURE_PREFIX = "capture/"
COMPACTED_PREFIX = "compacted/"
PARTS = ("inputs", "predictions", "requests", "feedback")


def capture_prefix(model: str) -> str:
    return f"{CAPTURE_PREFIX}model={model}/"


def compacted_key(capture_key: str, version: int, part: str) -> str:
    """`capture/model=m/dt=d/hour=h/x.jsonl` ->
    `compacted/model=m/version=v/dt=d/hour=h/x.<part>.parquet`."""
    tail = capture_key.removeprefix(CAPTURE_PREFIX)
    model_part, _, rest = tail.partition("/")
    stem = rest.rsplit(".", 1)[0] if "." in rest.rsplit("/", 1)[-1] else rest
    return f"{COMPACTED_PREFIX}{model_part}/version={version}/{stem}.{part}.parquet"


@dataclass
class Window:
    """What one check reads: inputs, predictions, and the quality join's two sides."""

    inputs: Columns
    predictions: np.ndarray
    requests: int
    objects: int
    # request id -> predictions of that request, in row order
    served: dict[str, list[Any]] = field(default_factory=dict)
    feedback: list[tuple[str, int, Any]] = field(default_factory=list)


def compact_object(lines: Iterable[bytes], spec: ModelSpec, version: int) -> dict[str, bytes]:
    """One capture object -> its four Parquet parts (`PARTS`), for the serving version."""
    raw = [line for line in lines if line.strip()]
    window = compact_capture(raw, spec, model_version=version)
    inputs, predictions = window.to_parquet()
    request_ids: list[str] = []
    outputs: list[str] = []
    feedback_ids: list[str] = []
    feedback_rows: list[int] = []
    feedback_actual: list[str] = []
    for line in raw:
        record = orjson.loads(line)
        if record.get("model_version") != version and record.get("kind") == "prediction":
            continue
        if record.get("kind") == "prediction":
            request_ids.append(str(record.get("request_id", "")))
            outputs.append(orjson.dumps(record.get("outputs") or []).decode())
        elif record.get("kind") == "feedback":
            for item in record.get("feedback") or []:
                feedback_ids.append(str(item.get("request_id", "")))
                feedback_rows.append(int(item.get("row", 0)))
                feedback_actual.append(orjson.dumps(item.get("actual")).decode())
    return {
        "inputs": inputs,
        "predictions": predictions,
        "requests": _table({"request_id": request_ids, "outputs": outputs}),
        "feedback": _table(
            {"request_id": feedback_ids, "row": feedback_rows, "actual": feedback_actual}
        ),
    }


def _table(columns: dict[str, list[Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink, compression="zstd")
    return sink.getvalue()


def merge_parts(parts: list[dict[str, bytes]], spec: ModelSpec) -> Window:
    """The window from the compacted parts of its objects."""
    numeric: dict[str, list[np.ndarray]] = {f.name: [] for f in spec.numeric_features}
    categorical: dict[str, list[np.ndarray]] = {f.name: [] for f in spec.categorical_features}
    predictions: list[np.ndarray] = []
    served: dict[str, list[Any]] = {}
    feedback: list[tuple[str, int, Any]] = []
    requests = 0
    for part in parts:
        inputs = read_columns(part["inputs"])
        requests += int(inputs.metadata.get("requests", 0))
        for name in numeric:
            if name in inputs.columns.numeric:
                numeric[name].append(inputs.columns.numeric[name])
        for name in categorical:
            if name in inputs.columns.categorical:
                categorical[name].append(inputs.columns.categorical[name])
        stored = read_columns(part["predictions"]).columns
        column = stored.numeric.get("prediction")
        if column is None:
            column = stored.categorical.get("prediction")
        if column is not None:
            predictions.append(column)
        table = pq.read_table(pa.BufferReader(part["requests"])).to_pydict()
        for request_id, outputs in zip(table["request_id"], table["outputs"], strict=True):
            served[request_id] = orjson.loads(outputs)
        table = pq.read_table(pa.BufferReader(part["feedback"])).to_pydict()
        for request_id, row, actual in zip(
            table["request_id"], table["row"], table["actual"], strict=True
        ):
            feedback.append((request_id, int(row), orjson.loads(actual)))
    regression = spec.task == "regression"
    empty = np.array([], np.float64 if regression else object)
    return Window(
        inputs=Columns(
            numeric={
                k: np.concatenate(v) if v else np.array([], np.float64) for k, v in numeric.items()
            },
            categorical={
                k: np.concatenate(v) if v else np.array([], object) for k, v in categorical.items()
            },
        ),
        predictions=np.concatenate(predictions) if predictions else empty,
        requests=requests,
        objects=len(parts),
        served=served,
        feedback=feedback,
    )


@dataclass(frozen=True)
class JoinedFeedback:
    """Labels joined to predictions; what could not be joined is counted, never joined."""

    labels: np.ndarray
    predictions: np.ndarray
    unknown_request_ids: int
    rows_out_of_range: int
    duplicates: int


def join_feedback(window: Window, task: str) -> JoinedFeedback:
    """Feedback joined on (request id, row): the last label for a pair wins (a correction)."""
    latest: dict[tuple[str, int], Any] = {}
    unknown = out_of_range = duplicates = 0
    for request_id, row, actual in window.feedback:
        outputs = window.served.get(request_id)
        if outputs is None:
            unknown += 1
            continue
        if row >= len(outputs):
            out_of_range += 1
            continue
        if (request_id, row) in latest:
            duplicates += 1
        latest[(request_id, row)] = actual
    labels = [actual for _, actual in latest.items()]
    predicted = [window.served[request_id][row] for request_id, row in latest]
    dtype: Any = np.float64 if task == "regression" else object
    if task != "regression":
        labels = [str(v) for v in labels]
        predicted = [str(v) for v in predicted]
    return JoinedFeedback(
        labels=np.array(labels, dtype),
        predictions=np.array(predicted, dtype),
        unknown_request_ids=unknown,
        rows_out_of_range=out_of_range,
        duplicates=duplicates,
    )


def hour_of(when: datetime) -> str:
    return f"dt={when:%Y-%m-%d}/hour={when:%H}"
