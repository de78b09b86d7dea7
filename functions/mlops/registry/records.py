"""The registry's records: training runs, model versions and a model's pointers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RunStatus = Literal["running", "registered", "rejected", "failed"]
VersionStatus = Literal[
    "pending",
    "registered",
    "rejected",
    "canary",
    "production",
    "rolled_back",
    "archived",
    "superseded",
]
CanaryKind = Literal["model", "code"]


class SourceObject(BaseModel):
    """The S3 object a run trains on; its identity makes the run idempotent."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int | None = None


class Problem(BaseModel):
    code: str
    message: str


class TrainingRun(BaseModel):
    """One attempt to train from one uploaded object, successful or not."""

    model: str
    run_id: str
    status: RunStatus
    source: SourceObject
    started_at: str
    finished_at: str | None = None
    version: int | None = None
    problems: list[Problem] = []
    claim_token: str = ""
    lease_until: int = 0
    last_error: str | None = None
    # Attempts before this one that ended without a result (crash, timeout, out of memory).
    attempts: int = 0
    # Set once the outcome's alert/event went out; a redelivery of a finished but unannounced
    # run sends them again (consumers de-duplicate on run_id).
    notified: bool = False


class ArtifactRef(BaseModel):
    key: str
    sha256: str
    size: int
    version_id: str | None = None


class ModelVersion(BaseModel):
    """One registered (or rejected) model version with everything needed to trust it."""

    model: str
    version: int
    status: VersionStatus
    run_id: str
    created_at: str
    updated_at: str
    metrics: dict[str, float | None] = {}
    comparison: dict[str, Any] = {}
    parity: dict[str, Any] = {}
    artifacts: dict[str, ArtifactRef] = {}
    lineage: dict[str, Any] = {}
    feature_schema: list[dict[str, Any]] = []
    classes: list[Any] = []

    @property
    def model_artifact(self) -> ArtifactRef:
        return self.artifacts["model.onnx"]


class ModelPointers(BaseModel):
    """Which versions serve: production, and the canary while one is in flight.

    The registry is the rollout's desired state (mlops.rollout.reconciler): besides the model
    versions it records which published function version serves each (so a later publish from
    a changed `$LATEST` never moves production unnoticed), when the canary's traffic started,
    the last look its decision took, and `revision`, which every write bumps under a condition
    on its previous value (the lock moto cannot give on the alias, DESIGN §6).
    """

    model: str
    production: int | None = None
    canary: int | None = None
    updated_at: str | None = None
    production_function_version: str | None = None
    canary_function_version: str | None = None
    # "model": a new model version; "code": the production model on changed function code.
    canary_kind: CanaryKind | None = None
    canary_started_at: float | None = None
    canary_last_look: int = 0
    # The code fingerprint a code canary runs, and those rolled back (never retried).
    canary_code: str | None = None
    rejected_code: list[str] = []
    revision: int = 0


class Transition(BaseModel):
    """One recorded rollout step: what, when, why, the evidence; announced once on the topic."""

    model: str
    revision: int
    what: str
    version: int | None = None
    from_status: str | None = None
    to_status: str | None = None
    at: str
    reason: str
    evidence: dict[str, Any] = {}
    announce: bool = True
    announced: bool = False


class StatusChange(BaseModel):
    """A version's status move inside a rollout write: `to`, only if it is one of `allowed`."""

    model_config = ConfigDict(frozen=True)

    version: int
    allowed: tuple[str, ...]
    to: str
