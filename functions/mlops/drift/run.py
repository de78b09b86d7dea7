"""One scheduled drift check of one model, end to end: window in, result + report + at most one
alert out.

Guarantees (each has a test in tests/integration/test_drift_check.py):
- the same scheduled event twice gives one check and at most one alert: the check is claimed by
  a conditional write keyed on (model, schedule time), and a redelivery of a finished check
  only re-sends an alert the first delivery recorded but did not mark sent;
- the window is the serving version's capture since the last conclusive check (capture objects
  written after it); an 'insufficient_data' check does not move that point, so sparse traffic
  accumulates until it can be tested instead of being dropped an hour at a time;
- each capture object is parsed once (mlops.drift.window) and read as Parquet afterwards;
- alerts only on a state change: ok -> drift, drift -> ok ("recovered"), and quality ok ->
  degraded; insufficient data never changes the state, so insufficient -> ok is silent and
  the same drift is announced once, not every hour;
- feedback joins on (request id, row); unknown request ids and rows beyond their request are
  counted in the result and never joined.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import orjson

from mlops.drift.columnar import read_columns
from mlops.drift.columns import Columns
from mlops.drift.decision import check_drift
from mlops.drift.html_report import render_report
from mlops.drift.quality import check_quality
from mlops.drift.reference import reference_from_baseline
from mlops.drift.result import DriftReport, QualityCheck, ReferenceKind
from mlops.drift.window import (
    PARTS,
    capture_prefix,
    compact_object,
    compacted_key,
    join_feedback,
    merge_parts,
)
from mlops.notifications import Alerts
from mlops.outcome_metrics import OutcomeMetrics
from mlops.registry import ArtifactStore, RegistryStore
from mlops.registry.artifacts import REFERENCE_FEATURES, REFERENCE_PREDICTIONS
from mlops.registry.keys import model_pk
from mlops.resources import TRAINING_PREFIX
from mlops.spec import ModelSpec, load_spec

logger = logging.getLogger(__name__)
REPORTS_PREFIX = "reports/"
STATE_SK = "DRIFT#STATE"
LINK_SECONDS = 3600
EDGE = timedelta(seconds=2)

DriftState = Literal["unknown", "ok", "drift"]


@dataclass(frozen=True)
class DriftDependencies:
    """The adapters a check talks to; built once per environment and passed in."""

    s3: Any
    dynamodb: Any
    registry: RegistryStore
    artifacts: ArtifactStore
    alerts: Alerts
    registry_table: str
    capture_bucket: str
    presigner: Any  # an S3 client that signs with SigV4 (mlops.clients.s3_presigner)
    lease_seconds: int = 900
    data_bucket: str = ""  # where retrain_on_drift reads labelled CSVs and starts training
    #: One line per decided check (verdict, quality), for the dashboards and alarms.
    metrics: OutcomeMetrics = field(default_factory=lambda: OutcomeMetrics("drift"))


@dataclass(frozen=True)
class CheckOutcome:
    status: Literal["checked", "duplicate", "no_production_model"]
    model: str
    verdict: str | None = None
    alert: str | None = None
    report_key: str | None = None
    result: dict[str, Any] | None = None


def check_id_for(scheduled_at: datetime) -> str:
    """The idempotency key: the schedule time (EventBridge's `time`, to the second; a
    redelivered event carries the same time, `mlops drift --now` a new one)."""
    return scheduled_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def report_prefix(model: str, check_id: str) -> str:
    return f"{REPORTS_PREFIX}{model}/{check_id}/"


def run_drift_check(model: str, scheduled_at: datetime, deps: DriftDependencies) -> CheckOutcome:
    """Check `model`'s serving version against its reference for the schedule time given.

    Raises only on infrastructure errors (the event is then retried and the claim taken over
    after its lease).
    """
    check_id = check_id_for(scheduled_at)
    store = DriftStateStore(deps.dynamodb, deps.registry_table)
    claimed = store.claim(model, check_id, deps.lease_seconds)
    if claimed is not None:  # an earlier delivery of this event finished or decided
        if claimed.get("status") == "decided":
            _send(claimed, deps, store, model, check_id)
        return CheckOutcome(
            "duplicate", model, claimed.get("verdict"), None, claimed.get("report_key")
        )
    production = deps.registry.get_pointers(model).production
    if production is None:
        store.finish(model, check_id, {"status": "done", "verdict": "no_production_model"})
        return CheckOutcome("no_production_model", model)
    spec = load_spec(model)
    version = deps.registry.get_version(model, production)
    state = store.get_state(model)
    revision = int(state.get("revision", 0))
    if state.get("version") != production:  # a new version starts a new window and state
        state = {"state": "unknown", "quality": "unknown", "version": production}
    since = state.get("window_end")
    now = datetime.now(UTC)
    window_parts, seen = _window_objects(model, production, state, spec, version, deps)
    window = merge_parts(window_parts, spec)
    reference, reference_predictions, reference_kind = _reference(spec, version, deps)
    joined = join_feedback(window, spec.task)
    quality = _quality(spec, version, joined)
    report = check_drift(
        spec,
        reference,
        window.inputs,
        reference_predictions=reference_predictions,
        window_predictions=window.predictions if window.predictions.size else None,
        reference_kind=reference_kind,
        quality=quality,
    )
    extra = {
        "capture objects in window": window.objects,
        "requests in window": window.requests,
        "window since": since or "the version's first capture",
        "feedback joined": int(joined.labels.size),
        "feedback with unknown request id (not joined)": joined.unknown_request_ids,
        "feedback row beyond its request (not joined)": joined.rows_out_of_range,
    }
    result = {
        "model": model,
        "version": production,
        "check_id": check_id,
        "checked_at": now.isoformat(timespec="seconds"),
        "window": {
            "since": since,
            "until": now.isoformat(timespec="seconds"),
            "objects": window.objects,
            "requests": window.requests,
        },
        "feedback": {
            "joined": int(joined.labels.size),
            "unknown_request_ids": joined.unknown_request_ids,
            "rows_out_of_range": joined.rows_out_of_range,
            "duplicates": joined.duplicates,
        },
        **report.to_dict(),
    }
    prefix = report_prefix(model, check_id)
    html_text = render_report(
        report,
        model=model,
        version=production,
        checked_at=result["checked_at"],
        reference=reference,
        window=window.inputs,
        reference_predictions=reference_predictions,
        window_predictions=window.predictions,
        extra=extra,
    )
    deps.s3.put_object(
        Bucket=deps.capture_bucket,
        Key=prefix + "result.json",
        Body=orjson.dumps(result),
        ContentType="application/json",
    )
    deps.s3.put_object(
        Bucket=deps.capture_bucket,
        Key=prefix + "report.html",
        Body=html_text.encode(),
        ContentType="text/html; charset=utf-8",
    )
    new_state, alert_kind = transition(state, report)
    if report.verdict != "insufficient_data":
        new_state["window_end"] = now.isoformat()
        new_state["edge_keys"] = _edge_keys(seen, now)
    summary = {
        "check_id": check_id,
        "verdict": report.verdict,
        "drifted": list(report.drifted),
        "quality": quality.verdict if quality else None,
        "report_key": prefix + "report.html",
        "checked_at": result["checked_at"],
        "version": production,
    }
    alert = _alert(alert_kind, spec, production, report, prefix, deps) if alert_kind else None
    if alert is not None and alert_kind == "drift" and spec.drift.retrain_on_drift:
        alert = _with_retraining(alert, spec, check_id, deps)
    store.decide(
        model,
        check_id,
        {**state, **new_state, "latest": summary, "revision": revision + 1},
        summary,
        alert,
        expected_revision=revision,
    )
    # After the conditional write: a check is decided, and counted, once.
    deps.metrics.record(model, check_metrics(report.verdict, quality.verdict if quality else None))
    decided = {"alert": alert, "status": "decided"}
    _send(decided, deps, store, model, check_id)
    return CheckOutcome(
        "checked", model, report.verdict, alert_kind, prefix + "report.html", result
    )


def check_metrics(verdict: str, quality: str | None) -> dict[str, float]:
    """A decided check's outcome metrics. An inconclusive verdict (insufficient data) writes no
    `drift_detected` point: it neither raises nor clears the drift alarm, as it leaves the
    drift state alone."""
    values: dict[str, float] = {"drift_checks": 1}
    if verdict in ("drift", "no_drift"):
        values["drift_detected"] = 1 if verdict == "drift" else 0
    if quality in ("ok", "degraded"):
        values["quality_degraded"] = 1 if quality == "degraded" else 0
    return values


def transition(state: dict[str, Any], report: DriftReport) -> tuple[dict[str, Any], str | None]:
    """(new state fields, alert kind or None). Insufficient data leaves the state alone."""
    previous = state.get("state", "unknown")
    new: dict[str, Any] = {}
    alert: str | None = None
    if report.verdict == "drift":
        new["state"] = "drift"
        if previous != "drift":
            alert = "drift"
    elif report.verdict == "no_drift":
        new["state"] = "ok"
        if previous == "drift":
            alert = "recovered"
    quality = report.quality.verdict if report.quality else None
    if quality in ("ok", "degraded"):
        new["quality"] = quality
        if quality == "degraded" and state.get("quality") != "degraded" and alert is None:
            alert = "quality"
    return new, alert


def _window_objects(
    model: str,
    version: int,
    state: dict[str, Any],
    spec: ModelSpec,
    version_record: Any,
    deps: DriftDependencies,
) -> tuple[list[dict[str, bytes]], dict[str, str]]:
    """(compacted parts of the window's capture objects, the keys to remember as seen).

    The window starts at the last conclusive check (`window_end`). S3's LastModified has a
    resolution of one second, so an object written in the same second as that check may or
    may not have been listed by it: objects up to `EDGE` before the start are considered and
    the ones the last check already read (`edge_keys`) skipped.
    """
    since = state.get("window_end")
    start = datetime.fromisoformat(since) if since else _created(version_record)
    seen: dict[str, str] = dict(state.get("edge_keys") or {})
    start_after = f"{capture_prefix(model)}dt={(start - timedelta(days=1)):%Y-%m-%d}/"
    found: list[dict[str, bytes]] = []
    paginator = deps.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(
        Bucket=deps.capture_bucket, Prefix=capture_prefix(model), StartAfter=start_after
    ):
        for item in page.get("Contents", []):
            modified = item["LastModified"].astimezone(UTC)
            if modified <= start - EDGE or item["Key"] in seen:
                continue
            found.append(_compacted(item["Key"], version, spec, deps))
            seen[item["Key"]] = modified.isoformat()
    return found, seen


def _edge_keys(seen: dict[str, str], now: datetime) -> dict[str, str]:
    """The read keys a later window could list again (modified within 2 x EDGE of now)."""
    return {k: v for k, v in seen.items() if datetime.fromisoformat(v) > now - 2 * EDGE}


def _created(version_record: Any) -> datetime:
    return datetime.fromisoformat(str(version_record.created_at)) - timedelta(minutes=5)


def _compacted(
    key: str, version: int, spec: ModelSpec, deps: DriftDependencies
) -> dict[str, bytes]:
    """The object's Parquet parts: read if compacted before, else parsed once and stored."""
    parts: dict[str, bytes] = {}
    try:
        for part in PARTS:
            parts[part] = deps.s3.get_object(
                Bucket=deps.capture_bucket, Key=compacted_key(key, version, part)
            )["Body"].read()
        return parts
    except deps.s3.exceptions.NoSuchKey:
        pass
    body = deps.s3.get_object(Bucket=deps.capture_bucket, Key=key)["Body"].read()
    parts = compact_object(body.splitlines(), spec, version)
    for part in reversed(PARTS):  # `inputs` last: its presence marks a complete compaction
        deps.s3.put_object(
            Bucket=deps.capture_bucket, Key=compacted_key(key, version, part), Body=parts[part]
        )
    return parts


def _reference(
    spec: ModelSpec, version: Any, deps: DriftDependencies
) -> tuple[Columns, np.ndarray | None, ReferenceKind]:
    artifacts = version.artifacts
    if REFERENCE_FEATURES in artifacts:
        features = read_columns(deps.artifacts.get_verified(artifacts[REFERENCE_FEATURES]))
        predictions: np.ndarray | None = None
        if REFERENCE_PREDICTIONS in artifacts:
            stored = read_columns(
                deps.artifacts.get_verified(artifacts[REFERENCE_PREDICTIONS])
            ).columns
            predictions = stored.numeric.get("prediction")
            if predictions is None:
                predictions = stored.categorical.get("prediction")
        return features.columns, predictions, "training_columns"
    baseline = orjson.loads(deps.artifacts.get_verified(artifacts["baseline.json"]))
    columns, predictions = reference_from_baseline(baseline, spec)
    return columns, predictions, "baseline_sample"


def _quality(spec: ModelSpec, version: Any, joined: Any) -> QualityCheck | None:
    if joined.labels.size == 0:
        return None
    metric = spec.quality_gate.metric
    held_out = (version.metrics or {}).get(metric)
    if held_out is None:
        return None
    return check_quality(
        metric,
        joined.labels,
        joined.predictions,
        held_out=float(held_out),
        alpha=spec.drift.alpha,
        min_samples=spec.drift.min_samples,
    )


def _alert(
    kind: str,
    spec: ModelSpec,
    version: int,
    report: DriftReport,
    prefix: str,
    deps: DriftDependencies,
) -> dict[str, Any]:
    """The alert's subject, body and attributes, decided before it is sent (stored with the
    check, so a redelivery re-sends the same text)."""
    model = spec.name
    issued = datetime.now(UTC)
    link = deps.presigner.generate_presigned_url(
        "get_object",
        Params={"Bucket": deps.capture_bucket, "Key": prefix + "report.html"},
        ExpiresIn=LINK_SECONDS,
    )
    expiry = (issued + timedelta(seconds=LINK_SECONDS)).strftime("%Y-%m-%d %H:%M UTC")
    rows = {row.feature: row for row in (*report.features, report.prediction) if row}
    if kind == "drift":
        names = list(report.drifted) + (["prediction"] if report.prediction_drifted else [])
        subject = f"[mlops] {model} v{version}: drift in {', '.join(names)}"
        lines = [f"Model {model} v{version}: input drift detected."]
        for name in names:
            row = rows[name]
            lines.append(
                f"- {name}: {row.test} statistic {row.statistic:.3g}, corrected p "
                f"{row.corrected_p_value:.3g}, effect {row.effect:.3g} {row.effect_unit} "
                f"(alerts above {row.negligible_effect:g}), n {row.n_current} vs "
                f"{row.n_reference}"
            )
    elif kind == "recovered":
        subject = f"[mlops] {model} v{version}: drift recovered"
        lines = [f"Model {model} v{version}: the latest window shows no drift (recovered)."]
    else:
        q = report.quality
        assert q is not None
        subject = f"[mlops] {model} v{version}: quality dropped ({q.metric})"
        interval = f"[{q.interval[0]:.3g}, {q.interval[1]:.3g}]" if q.interval else ""
        lines = [
            f"Model {model} v{version}: {q.metric} on labelled traffic is {q.value:.3g} "
            f"{interval} ({q.confidence:.0%} interval, n={q.n}), below the held-out "
            f"{q.held_out:.3g}."
        ]
    lines += [
        "",
        f"Report (pre-signed link, expires {expiry} at the latest; it stops working sooner if "
        "the drift function's role session ends first):",
        link,
        f"Any time: mlops report {model} --open",
    ]
    return {
        "subject": subject[:99],
        "body": "\n".join(lines),
        "attributes": {"model": model, "kind": f"drift_{kind}"},
    }


def _send(
    decided: dict[str, Any],
    deps: DriftDependencies,
    store: DriftStateStore,
    model: str,
    check_id: str,
) -> None:
    alert = decided.get("alert")
    retrain = (alert or {}).get("retrain")
    if retrain and store.mark_retraining(model, check_id):
        # At most once per check: the mark is a conditional write made before the copy (a
        # crash between the two loses this retraining rather than training twice).
        deps.s3.copy_object(
            Bucket=deps.data_bucket,
            Key=retrain["target"],
            CopySource={"Bucket": deps.data_bucket, "Key": retrain["source"]},
        )
    if alert:
        deps.alerts.publish(alert["subject"], alert["body"], alert["attributes"])
    store.finish(model, check_id, {"status": "done"})


def _with_retraining(
    alert: dict[str, Any], spec: ModelSpec, check_id: str, deps: DriftDependencies
) -> dict[str, Any]:
    """The spec's opt-in: plan a training run from the newest CSV under `retrain_from`, by
    copying it under training/<model>/ (the upload path: S3 -> SQS -> train, gate included)."""
    prefix = str(spec.drift.retrain_from)
    newest: dict[str, Any] | None = None
    paginator = deps.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=deps.data_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".csv") and (
                newest is None or item["LastModified"] > newest["LastModified"]
            ):
                newest = item
    if newest is None:
        line = f"retrain_on_drift is on, but s3://{deps.data_bucket}/{prefix} holds no CSV."
        return {**alert, "body": alert["body"] + "\n\n" + line}
    target = f"{TRAINING_PREFIX}{spec.name}/retrain-{check_id}.csv"
    line = (
        f"Retraining started (retrain_on_drift): s3://{deps.data_bucket}/{newest['Key']} "
        f"-> {target}; the new version goes through the quality gate as any upload."
    )
    return {
        **alert,
        "body": alert["body"] + "\n\n" + line,
        "retrain": {"source": newest["Key"], "target": target},
    }


class DriftStateStore:
    """Check claims and the model's drift state, in the registry table (pk MODEL#<m>)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def _key(self, model: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": model_pk(model)}, "sk": {"S": sk}}

    def claim(self, model: str, check_id: str, lease_seconds: int) -> dict[str, Any] | None:
        """None when this invocation owns the check; the stored check when another finished
        (or decided) it. Raises the ClientError of a check another invocation holds."""
        now = int(datetime.now(UTC).timestamp())
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **self._key(model, f"DRIFT#CHECK#{check_id}"),
                    "kind": {"S": "drift_check"},
                    "status": {"S": "running"},
                    "lease_until": {"N": str(now + lease_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk) OR "
                "(#status = :running AND lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":running": {"S": "running"}, ":now": {"N": str(now)}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            item = self._db.get_item(
                TableName=self._table,
                Key=self._key(model, f"DRIFT#CHECK#{check_id}"),
                ConsistentRead=True,
            )["Item"]
            if item["status"]["S"] == "running":
                raise
            stored = orjson.loads(item.get("document", {}).get("S", "{}"))
            return {"status": item["status"]["S"], **stored}
        return None

    def get_state(self, model: str) -> dict[str, Any]:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(model, STATE_SK), ConsistentRead=True
        ).get("Item")
        return orjson.loads(item["document"]["S"]) if item else {"state": "unknown"}

    def decide(
        self,
        model: str,
        check_id: str,
        state: dict[str, Any],
        summary: dict[str, Any],
        alert: dict[str, Any] | None,
        *,
        expected_revision: int,
    ) -> None:
        """State and the check's decision in one transaction: either both or neither.

        Optimistic lock on the state's revision: two checks of one model that overlap (a
        redelivery after a timeout next to the next schedule) cannot both move the state from
        the same starting point; the loser's transaction is cancelled, its message retried.
        """
        document = orjson.dumps({**summary, "alert": alert}).decode()
        condition = (
            "attribute_not_exists(pk)"
            if expected_revision == 0
            else "attribute_exists(pk) AND revision = :expected"
        )
        values = {":expected": {"N": str(expected_revision)}} if expected_revision else {}
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **self._key(model, STATE_SK),
                            "kind": {"S": "drift_state"},
                            "revision": {"N": str(expected_revision + 1)},
                            "document": {"S": orjson.dumps(state).decode()},
                        },
                        "ConditionExpression": condition,
                        **({"ExpressionAttributeValues": values} if values else {}),
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(model, f"DRIFT#CHECK#{check_id}"),
                        "UpdateExpression": "SET #status = :decided, document = :document",
                        "ConditionExpression": "#status = :running",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":decided": {"S": "decided"},
                            ":running": {"S": "running"},
                            ":document": {"S": document},
                        },
                    }
                },
            ]
        )

    def mark_retraining(self, model: str, check_id: str) -> bool:
        """True for the first caller only (conditional write on the check item)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(model, f"DRIFT#CHECK#{check_id}"),
                UpdateExpression="SET retraining = :yes",
                ConditionExpression="attribute_not_exists(retraining)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def finish(self, model: str, check_id: str, fields: dict[str, Any]) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=self._key(model, f"DRIFT#CHECK#{check_id}"),
            UpdateExpression="SET #status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": fields["status"]}},
        )

    def latest(self, model: str) -> dict[str, Any] | None:
        """The latest verdict (what `mlops drift` and `mlops report` start from)."""
        state = self.get_state(model)
        latest = state.get("latest")
        return latest if isinstance(latest, dict) else None
