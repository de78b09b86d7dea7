"""What a predict function needs of one registered version, read without pydantic.

The registry's records are pydantic models (training writes and validates them). The predict
function only reads one version at each cold start, and importing pydantic and building those
models cost ~150 ms of it on this project's machine (with the artifact metadata and the spec's
sample rate; benchmarks/results/latest.md). This is the read side it needs: the same DynamoDB
item, checked field by field for what serving uses. tests/unit/test_registry_served.py builds
it from the records training writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.registry.attributes import from_attribute
from mlops.registry.exceptions import RegistryError, VersionNotFoundError
from mlops.registry.keys import model_pk, version_sk

MODEL_ARTIFACT = "model.onnx"
#: ModelVersion.status's values (mlops.registry.records.VersionStatus; a unit test compares).
VERSION_STATUSES = (
    "pending",
    "registered",
    "rejected",
    "canary",
    "production",
    "rolled_back",
    "archived",
    "superseded",
)


class MalformedVersionError(RegistryError):
    """The version's item lacks a field serving needs, or has one of the wrong type."""


@dataclass(frozen=True)
class ServedArtifact:
    """Where the model file is and what it must hash to (an ArtifactRef's serving fields)."""

    key: str
    sha256: str
    size: int
    version_id: str | None = None


@dataclass(frozen=True)
class ServedVersion:
    """The registered version a predict function serves, as the registry recorded it."""

    model: str
    version: int
    status: str
    created_at: str
    model_artifact: ServedArtifact
    metrics: dict[str, Any] = field(default_factory=dict)
    feature_schema: list[dict[str, Any]] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ServedVersion:
        """From the item's plain document (what `RegistryStore` writes for a ModelVersion)."""
        artifact = (_typed(document, "artifacts", dict)).get(MODEL_ARTIFACT)
        if not isinstance(artifact, dict):
            raise MalformedVersionError(f"the version has no {MODEL_ARTIFACT} artifact")
        version_id = artifact.get("version_id")
        if version_id is not None and not isinstance(version_id, str):
            raise MalformedVersionError("'version_id' must be a string")
        status = _typed(document, "status", str)
        if status not in VERSION_STATUSES:
            raise MalformedVersionError(f"'status' must be one of {VERSION_STATUSES}")
        return cls(
            model=_typed(document, "model", str),
            version=_typed(document, "version", int),
            status=status,
            created_at=_typed(document, "created_at", str),
            model_artifact=ServedArtifact(
                key=_typed(artifact, "key", str),
                sha256=_typed(artifact, "sha256", str),
                size=_typed(artifact, "size", int),
                version_id=version_id,
            ),
            metrics=_metrics(_typed(document, "metrics", dict, {})),
            feature_schema=_feature_schema(_typed(document, "feature_schema", list, [])),
            classes=_typed(document, "classes", list, []),
            lineage=_typed(document, "lineage", dict, {}),
        )


def read_version_document(dynamodb: Any, table: str, model: str, version: int) -> dict[str, Any]:
    """One version's item as a plain document (a consistent read); VersionNotFoundError if
    there is none. The registry store validates it into a ModelVersion; serving reads it here."""
    response = dynamodb.get_item(
        TableName=table,
        ConsistentRead=True,
        Key={"pk": {"S": model_pk(model)}, "sk": {"S": version_sk(version)}},
    )
    item = response.get("Item")
    if not item:
        raise VersionNotFoundError(f"{model} has no version {version}")
    return {key: from_attribute(value) for key, value in item.items()}


class ServedVersionReader:
    """Reads the version a predict function serves from the registry table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def get(self, model: str, version: int) -> ServedVersion:
        return ServedVersion.from_document(
            read_version_document(self._db, self._table, model, version)
        )

    def current_status(self, model: str, version: int) -> str:
        """The version's status now (it moves after load: canary -> production -> archived)."""
        response = self._db.get_item(
            TableName=self._table,
            ConsistentRead=True,
            Key={"pk": {"S": model_pk(model)}, "sk": {"S": version_sk(version)}},
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
        )
        status = from_attribute(response.get("Item", {}).get("status", {"NULL": True}))
        if status not in VERSION_STATUSES:
            raise MalformedVersionError(f"{model} v{version}: status {status!r} is not known")
        return str(status)


_UNSET: Any = object()


def _metrics(values: dict[str, Any]) -> dict[str, float | None]:
    """Numbers or null, as floats (the registry stores 1.0 as 1: read it back as 1.0)."""
    for name, value in values.items():
        if value is not None and (type(value) not in (int, float)):
            raise MalformedVersionError(f"metric '{name}' must be a number or null")
    return {name: None if value is None else float(value) for name, value in values.items()}


def _feature_schema(features: list[Any]) -> list[dict[str, Any]]:
    """Each feature an object with a string name: what FeatureSchema.from_records reads."""
    for feature in features:
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise MalformedVersionError("each feature_schema entry must be an object with a name")
    return features


def _typed(document: dict[str, Any], name: str, kind: type, default: Any = _UNSET) -> Any:
    value = document.get(name, default)
    if value is _UNSET:
        raise MalformedVersionError(f"the version has no '{name}'")
    if kind is int and (type(value) is not int):
        raise MalformedVersionError(f"'{name}' must be an integer")
    if not isinstance(value, kind):
        raise MalformedVersionError(f"'{name}' must be a {kind.__name__}")
    return value
