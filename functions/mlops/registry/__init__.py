"""The model registry: artifacts in S3 (sha256 recorded), runs/versions/pointers in DynamoDB."""

from mlops.registry.artifacts import ArtifactStore, sha256_hex, version_prefix
from mlops.registry.exceptions import (
    RegistryError,
    RunInProgressError,
    RunLostError,
    VersionNotFoundError,
)
from mlops.registry.records import (
    ArtifactRef,
    ModelPointers,
    ModelVersion,
    Problem,
    SourceObject,
    TrainingRun,
)
from mlops.registry.store import RegistryStore, json_safe, now_iso, run_id_for

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "ModelPointers",
    "ModelVersion",
    "Problem",
    "RegistryError",
    "RegistryStore",
    "RunInProgressError",
    "RunLostError",
    "SourceObject",
    "TrainingRun",
    "VersionNotFoundError",
    "json_safe",
    "now_iso",
    "run_id_for",
    "sha256_hex",
    "version_prefix",
]
