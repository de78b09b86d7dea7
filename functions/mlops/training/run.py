"""One training run, end to end: an uploaded object in, a registered (or rejected) version or a
recorded failure out.

Guarantees (each has a test):
- a bad file fails its run with every reason recorded and an alert; it creates no version and
  never touches what serves;
- the same object delivered twice produces one run and at most one version;
- concurrent uploads get distinct version numbers;
- the candidate is registered only if it clears the spec's floor and does not lose to the
  production model, scored on the same held-out rows, by more than the allowed margin.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

import numpy as np

from mlops.dataset import DataProblem, DataValidationError, check_file_size, read_training_csv
from mlops.drift import CaptureWindow, Columns, write_reference
from mlops.inference import ModelLoadError
from mlops.inference.session import OnnxModel
from mlops.notifications import Alerts, RegistryEvents
from mlops.outcome_metrics import OutcomeMetrics
from mlops.registry import (
    ArtifactStore,
    ModelVersion,
    Problem,
    RegistryStore,
    SourceObject,
    TrainingRun,
    json_safe,
    now_iso,
    run_id_for,
    sha256_hex,
)
from mlops.registry.artifacts import REFERENCE_FEATURES, REFERENCE_PREDICTIONS
from mlops.resources import TRAINING_PREFIX
from mlops.spec import ModelSpec, SpecError, UnknownModelError, load_spec
from mlops.training.gate import GateDecision, decide
from mlops.training.model_card import render_model_card
from mlops.training.onnx_export import ParityError
from mlops.training.trainer import Candidate, fit_candidate, score

logger = logging.getLogger(__name__)
_KEY_PATTERN = re.compile(rf"^{TRAINING_PREFIX}(?P<model>[^/]+)/.+$")
LIBRARIES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy", "scipy")


@dataclass(frozen=True)
class TrainingDependencies:
    """The adapters a run talks to; built once per environment and passed in."""

    s3: Any
    registry: RegistryStore
    artifacts: ArtifactStore
    alerts: Alerts
    events: RegistryEvents
    max_file_mb: float
    lease_seconds: int
    code_version: str
    # Deliveries of one object that may die mid-run before the next records a failure; keep it
    # below the queue's maxReceiveCount (3) so the failure is recorded before the DLQ.
    max_attempts: int = 2
    #: One line per finished run (succeeded / rejected / failed), for the dashboards and alarms.
    metrics: OutcomeMetrics = field(default_factory=lambda: OutcomeMetrics("train"))


@dataclass(frozen=True)
class RunOutcome:
    """What became of one delivered object."""

    status: Literal["registered", "rejected", "failed", "duplicate", "ignored"]
    model: str
    run_id: str | None = None
    version: int | None = None
    reason: str = ""


class _RunFailedError(Exception):
    def __init__(self, problems: list[DataProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def model_for_key(key: str) -> str | None:
    """`training/<model>/<file>` -> model; None for keys outside that layout."""
    match = _KEY_PATTERN.match(key)
    return match.group("model") if match else None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def process_training_object(source: SourceObject, deps: TrainingDependencies) -> RunOutcome:
    """Train from one uploaded object. Raises only on infrastructure errors (to be retried)."""
    model = model_for_key(source.key)
    if model is None:
        logger.warning("ignoring %s: not under %s<model>/", source.key, TRAINING_PREFIX)
        return RunOutcome("ignored", model="", reason="key outside training/<model>/")
    source = resolve_version(source, deps.s3)
    run = deps.registry.claim_run(model, source, deps.lease_seconds)
    if run is None:
        logger.info(
            "duplicate delivery of s3://%s/%s: already processed", source.bucket, source.key
        )
        finished = deps.registry.get_run(model, run_id_for(source))
        if finished is not None and not finished.notified:
            announce(finished, deps)  # the first delivery stopped before announcing
        return RunOutcome("duplicate", model=model)
    if run.attempts >= deps.max_attempts:
        # The earlier deliveries died mid-run (a Lambda timeout or running out of memory leaves
        # no trace but the expired lease): record the failure instead of dying a third time.
        return _record_failure(run, [_did_not_finish(run)], deps)
    try:
        return _train(run, source, deps)
    except _RunFailedError as failure:
        return _record_failure(run, failure.problems, deps)
    except Exception as error:
        deps.registry.release_run(run, f"{type(error).__name__}: {error}")
        raise


def resolve_version(source: SourceObject, s3: Any) -> SourceObject:
    """The object version a delivery means, before it becomes the run's identity.

    AWS names the version in a versioned bucket's events; moto's own notification does not,
    and a replay of the same object does (DESIGN §6): one object once trained twice. HEAD
    resolves it, provided the key still holds the bytes the event announced (same ETag); if
    the key was overwritten since, the event's ETag stays the identity. A missing object is
    left to the run, which reports it."""
    if source.version_id:
        return source
    try:
        head = s3.head_object(Bucket=source.bucket, Key=source.key)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return source
        raise
    version = head.get("VersionId")
    same_bytes = str(head.get("ETag", "")).strip('"') == source.etag.strip('"')
    if version and version != "null" and (same_bytes or not source.etag):
        return source.model_copy(update={"version_id": version})
    return source


def _did_not_finish(run: TrainingRun) -> DataProblem:
    cause = (
        f" (last error: {run.last_error})"
        if run.last_error
        else (" (no error was recorded: a timeout or running out of memory)")
    )
    return DataProblem(
        "training_did_not_finish",
        f"{run.attempts} earlier attempt(s) to train from this file ended without a result"
        f"{cause}; try a smaller file, or give the train function more memory or time",
    )


def _train(run: TrainingRun, source: SourceObject, deps: TrainingDependencies) -> RunOutcome:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        spec = load_spec(run.model)
    except UnknownModelError as error:
        # Not the loader's message: it names the function's own folder (/var/task/models).
        problem = DataProblem(
            "unknown_model",
            f"no model named '{run.model}' is declared: add models/{run.model}.toml and "
            "deploy it (locally, `mlops local` picks new specs up), then upload again",
        )
        raise _RunFailedError([problem]) from error
    except SpecError as error:
        raise _RunFailedError([DataProblem("invalid_spec", str(error))]) from error

    head = deps.s3.head_object(**_object_arguments(source))
    if source.version_id is None and head.get("VersionId"):
        # Real S3 names the version in a versioned bucket's events; moto does not. Pin the
        # version HEAD saw, so lineage and the bytes trained on are the same object.
        source = source.model_copy(update={"version_id": head["VersionId"]})
    try:
        check_file_size(int(head["ContentLength"]), deps.max_file_mb)
    except DataValidationError as error:
        raise _RunFailedError(error.problems) from error
    content: bytes = deps.s3.get_object(**_object_arguments(source))["Body"].read()
    data_sha256 = sha256_hex(content)
    timings["download_seconds"] = time.perf_counter() - started

    step = time.perf_counter()
    try:
        data = read_training_csv(content, spec)
    except DataValidationError as error:
        raise _RunFailedError(error.problems) from error
    timings["validate_seconds"] = time.perf_counter() - step

    try:
        candidate = fit_candidate(spec, data)
    except ParityError as error:
        raise _RunFailedError([DataProblem("parity_failed", str(error))]) from error
    except SpecError as error:
        raise _RunFailedError([DataProblem("invalid_spec", str(error))]) from error
    except ValueError as error:  # e.g. a class too rare to fit
        raise _RunFailedError([DataProblem("training_failed", str(error))]) from error
    timings.update(candidate.durations)

    production_version, production_metrics, note = _score_production(spec, candidate, deps)
    decision = decide(spec, candidate.metrics, production_metrics, production_version)
    if note:
        decision.comparison["note"] = note
    timings["total_seconds"] = time.perf_counter() - started

    lineage = {
        "data_bucket": source.bucket,
        "data_key": source.key,
        "data_version_id": source.version_id,
        "data_etag": source.etag,
        "data_sha256": data_sha256,
        "data_rows": data.row_count,
        "spec_hash": spec.spec_hash(),
        "code_version": deps.code_version,
        "libraries": library_versions(),
        "durations": timings,
    }
    version_number = deps.registry.allocate_version(run, {"lineage": lineage})
    version = _store_version(run, version_number, spec, candidate, decision, lineage, data, deps)
    deps.registry.complete_version(run, version)
    announce(run.model_copy(update={"status": version.status}), deps)
    return RunOutcome(
        decision.status,
        model=run.model,
        run_id=run.run_id,
        version=version_number,
        reason=decision.reason,
    )


def _object_arguments(source: SourceObject) -> dict[str, Any]:
    arguments: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        arguments["VersionId"] = source.version_id
    return arguments


def _score_production(
    spec: ModelSpec, candidate: Candidate, deps: TrainingDependencies
) -> tuple[int | None, dict[str, float] | None, str]:
    """The production model's metrics on the candidate's held-out rows (champion/challenger)."""
    pointers = deps.registry.get_pointers(spec.name)
    if pointers.production is None:
        return None, None, ""
    production = deps.registry.get_version(spec.name, pointers.production)
    try:
        model = OnnxModel(deps.artifacts.get_verified(production.model_artifact))
    except ModelLoadError as error:
        return pointers.production, None, f"production model could not be scored: {error}"
    expected = (
        candidate.model.metadata.numeric_features,
        candidate.model.metadata.categorical_features,
    )
    actual = (model.metadata.numeric_features, model.metadata.categorical_features)
    if expected != actual:
        return (
            pointers.production,
            None,
            "production model has a different feature schema; gated on the floor only",
        )
    held_out = candidate.held_out
    metrics = score(
        spec,
        model.predict(held_out.numeric, held_out.categorical),
        held_out.target,
        candidate.classes,
    )
    return pointers.production, metrics, ""


def _store_version(
    run: TrainingRun,
    version: int,
    spec: ModelSpec,
    candidate: Candidate,
    decision: GateDecision,
    lineage: dict[str, Any],
    data: Any,
    deps: TrainingDependencies,
) -> ModelVersion:
    summary = {
        "rows": data.row_count,
        "train_rows": candidate.train_rows,
        "test_rows": int(candidate.held_out.target.shape[0]),
        "missing_counts": {k: v for k, v in data.missing_counts.items() if v},
    }
    card = render_model_card(
        spec,
        version,
        candidate.metrics,
        decision.comparison,
        candidate.parity.as_dict(),
        lineage,
        summary,
    )
    metrics_document = {
        "model": spec.name,
        "version": version,
        "metrics": candidate.metrics,
        "comparison": decision.comparison,
        "parity": candidate.parity.as_dict(),
        "data": summary,
    }
    features, predictions = reference_files(spec, candidate, data)
    files = {
        "model.onnx": candidate.onnx_bytes,
        "baseline.json": _json_bytes(candidate.baseline),
        "metrics.json": _json_bytes(metrics_document),
        "card.md": card.encode(),
        REFERENCE_FEATURES: features,
        REFERENCE_PREDICTIONS: predictions,
    }
    refs = deps.artifacts.put_version(spec.name, version, files)
    created = now_iso()
    return ModelVersion(
        model=spec.name,
        version=version,
        status=decision.status,
        run_id=run.run_id,
        created_at=created,
        updated_at=created,
        metrics={k: (None if np.isnan(v) else v) for k, v in candidate.metrics.items()},
        comparison=decision.comparison,
        parity=candidate.parity.as_dict(),
        artifacts=refs,
        lineage=lineage,
        feature_schema=[f.model_dump(mode="json") for f in spec.features],
        classes=candidate.classes,
    )


def reference_files(spec: ModelSpec, candidate: Candidate, data: Any) -> tuple[bytes, bytes]:
    """The drift reference: every training row's features (seeded sample above the cap) and
    the ONNX model's predictions on the held-out rows, as Parquet (mlops.drift.columnar).

    Predictions come from the held-out rows, not the training rows: a forest reproduces its
    training labels, so its predictions there are sharper than on new traffic and the check
    would flag that difference as drift. Features come from every row: the more reference
    values, the smaller the shift a check can catch (docs/drift.md).
    """
    columns = Columns(
        numeric={f.name: data.numeric[:, i] for i, f in enumerate(spec.numeric_features)},
        categorical={
            f.name: data.categorical[:, i] for i, f in enumerate(spec.categorical_features)
        },
    )
    held_out = candidate.held_out
    outputs = candidate.model.predict(held_out.numeric, held_out.categorical).outputs
    window = CaptureWindow(
        inputs=Columns(),
        predictions=(
            np.asarray(outputs, np.float64)
            if spec.task == "regression"
            else np.asarray(outputs).astype(str).astype(object)
        ),
        requests=int(outputs.shape[0]),
    )
    return write_reference(columns, seed=spec.split.seed), window.to_parquet()[1]


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(json_safe(document), indent=2, default=str, allow_nan=False).encode()


def _record_failure(
    run: TrainingRun, problems: list[DataProblem], deps: TrainingDependencies
) -> RunOutcome:
    recorded = deps.registry.fail_run(
        run, [Problem(code=p.code, message=p.message) for p in problems]
    )
    announce(recorded, deps)
    return RunOutcome(
        "failed",
        model=run.model,
        run_id=recorded.run_id,
        reason="; ".join(p.message for p in problems),
    )


def run_metrics(status: str) -> dict[str, float]:
    """A finished run's outcome metrics (counted with its announcement: once per run)."""
    return {
        "training_runs": 1,
        "training_succeeded": 1 if status == "registered" else 0,
        "training_rejected": 1 if status == "rejected" else 0,
        "training_failed": 1 if status == "failed" else 0,
    }


def announce(run: TrainingRun, deps: TrainingDependencies) -> None:
    """Send a finished run's outcome: the registry event, and an alert for a failure or a
    rejection; then mark the run notified.

    Built from what the registry recorded, so a redelivered message can send it again if the
    first attempt stopped in between (at least once; consumers de-duplicate on `run_id`).
    """
    source = f"s3://{run.source.bucket}/{run.source.key}"
    deps.metrics.record(run.model, run_metrics(run.status))
    if run.status == "failed":
        reasons = "\n".join(f"- [{p.code}] {p.message}" for p in run.problems)
        deps.alerts.publish(
            f"[mlops] training failed for {run.model}",
            f"Training run {run.run_id} for model {run.model} failed; no version was created "
            f"and serving is unchanged.\nFile: {source}\nReasons:\n{reasons}",
            {"model": run.model, "kind": "training_failed"},
        )
        deps.events.emit(
            "TrainingFailed",
            {
                "model": run.model,
                "run_id": run.run_id,
                "problems": [p.model_dump() for p in run.problems],
            },
        )
    elif run.status in ("registered", "rejected") and run.version is not None:
        version = deps.registry.get_version(run.model, run.version)
        detail = {
            "model": run.model,
            "version": version.version,
            "run_id": run.run_id,
            "status": run.status,
            "metrics": version.metrics,
            "comparison": version.comparison,
        }
        if run.status == "registered":
            deps.events.emit("ModelRegistered", detail)
        else:
            deps.events.emit("ModelRejected", detail)
            deps.alerts.publish(
                f"[mlops] {run.model} v{version.version} rejected by its quality gate",
                f"Model {run.model} v{version.version}, trained from {source}, was rejected: "
                f"{version.comparison.get('reason')}.\nNothing changed in serving.",
                {"model": run.model, "kind": "candidate_rejected"},
            )
    deps.registry.mark_notified(run)
