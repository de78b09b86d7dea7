"""The model registry: artifacts in S3 (sha256 recorded), runs/versions/pointers in DynamoDB.

Names are imported on first use (PEP 562): the predict function imports only the serving
view (`mlops.registry.served`, `mlops.registry.artifacts`), and importing this package must
not build the pydantic records it never uses (~150 ms of its cold start with pydantic itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.lazy import lazy_exports

if TYPE_CHECKING:
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
        StatusChange,
        TrainingRun,
        Transition,
    )
    from mlops.registry.served import ServedArtifact, ServedVersion, ServedVersionReader
    from mlops.registry.store import RegistryStore, json_safe, now_iso, run_id_for

_HOMES = {
    "mlops.registry.artifacts": ("ArtifactStore", "sha256_hex", "version_prefix"),
    "mlops.registry.exceptions": (
        "RegistryError",
        "RunInProgressError",
        "RunLostError",
        "VersionNotFoundError",
    ),
    "mlops.registry.records": (
        "ArtifactRef",
        "ModelPointers",
        "ModelVersion",
        "Problem",
        "SourceObject",
        "StatusChange",
        "TrainingRun",
        "Transition",
    ),
    "mlops.registry.served": ("ServedArtifact", "ServedVersion", "ServedVersionReader"),
    "mlops.registry.store": ("RegistryStore", "json_safe", "now_iso", "run_id_for"),
}
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
    "ServedArtifact",
    "ServedVersion",
    "ServedVersionReader",
    "SourceObject",
    "StatusChange",
    "TrainingRun",
    "Transition",
    "VersionNotFoundError",
    "json_safe",
    "now_iso",
    "run_id_for",
    "sha256_hex",
    "version_prefix",
]

__getattr__ = lazy_exports(__name__, _HOMES, globals())
