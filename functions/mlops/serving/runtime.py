"""What one execution environment serves: loaded once, outside the request path.

`load_runtime` never raises: a missing, corrupt or tampered artifact yields a runtime that
answers 503 (with the reason logged and counted), instead of crashing the process into
Lambda's init-retry loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.inference.exceptions import ArtifactIntegrityError, ModelLoadError
from mlops.registry.artifacts import ArtifactStore
from mlops.registry.exceptions import VersionNotFoundError
from mlops.registry.served import MalformedVersionError, ServedVersion, ServedVersionReader
from mlops.serving.errors import ModelUnavailableError, NoProductionModelError, ServingError
from mlops.serving.features import FeatureSchema
from mlops.settings import PredictSettings

if TYPE_CHECKING:
    from mlops.inference.session import OnnxModel

logger = logging.getLogger(__name__)


@dataclass
class ServingRuntime:
    """The pinned model of this environment, or why there is none."""

    settings: PredictSettings
    model: OnnxModel | None = None
    version: ServedVersion | None = None
    schema: FeatureSchema | None = None
    unavailable: ServingError | None = None
    load_seconds: float = 0.0
    load_problem: str | None = field(default=None)
    #: Where describe reads the version's status now (it changes after load).
    registry: ServedVersionReader | None = None

    def require_model(self) -> tuple[OnnxModel, ServedVersion, FeatureSchema]:
        if self.unavailable is not None:
            raise self.unavailable
        if self.model is None or self.version is None or self.schema is None:
            raise ModelUnavailableError(f"model '{self.settings.model_name}' is not loaded")
        return self.model, self.version, self.schema


def load_runtime(
    settings: PredictSettings, registry: ServedVersionReader, artifacts: ArtifactStore
) -> ServingRuntime:
    """Resolve the pinned version, fetch and verify its artifact, build the session."""
    started = time.perf_counter()
    runtime = ServingRuntime(settings=settings, registry=registry)
    pinned = settings.model_version
    if pinned == 0:
        runtime.unavailable = NoProductionModelError(
            f"model '{settings.model_name}' has no production version yet; train one and promote it"
        )
        return runtime
    try:
        version = registry.get(settings.model_name, pinned)
        artifact = artifacts.get_verified(version.model_artifact)
        # onnxruntime is imported where a model is loaded: an environment with nothing to
        # serve never pays for it, and the benchmark's scikit-learn twin of this handler
        # imports the same modules minus onnxruntime (benchmarks/cold_sklearn_handler.py).
        from mlops.inference.session import OnnxModel

        model = OnnxModel(artifact)
        if settings.fault_injection:  # test-only (mlops.serving.faults)
            from mlops.serving.faults import FaultyModel

            model = FaultyModel(model, settings.fault_injection)  # type: ignore[assignment]
        schema = FeatureSchema.from_records(
            version.feature_schema,
            model.metadata.numeric_features,
            model.metadata.categorical_features,
        )
    except ArtifactIntegrityError as error:
        runtime.load_problem = "artifact_integrity"
        logger.error("refusing to serve %s v%s: %s", settings.model_name, pinned, error)
        runtime.unavailable = ModelUnavailableError(
            f"model '{settings.model_name}' v{pinned} failed its integrity check",
            {"reason": "artifact_sha256_mismatch"},
        )
        return runtime
    except (VersionNotFoundError, MalformedVersionError, ModelLoadError, KeyError) as error:
        runtime.load_problem = "load_failed"
        logger.error("cannot load %s v%s: %s", settings.model_name, pinned, error)
        runtime.unavailable = ModelUnavailableError(
            f"model '{settings.model_name}' v{pinned} could not be loaded",
            {"reason": type(error).__name__},
        )
        return runtime
    except Exception as error:  # S3/DynamoDB outage at init: serve 503, retry next cold start
        runtime.load_problem = "load_failed"
        logger.exception("cannot load %s v%s", settings.model_name, pinned)
        runtime.unavailable = ModelUnavailableError(
            f"model '{settings.model_name}' v{pinned} could not be loaded",
            {"reason": type(error).__name__},
        )
        return runtime
    runtime.model, runtime.version, runtime.schema = model, version, schema
    runtime.load_seconds = time.perf_counter() - started
    return runtime


def current_status(runtime: ServingRuntime, version: ServedVersion) -> str:
    """The registry's status for the served version now; the one read at load if the registry
    cannot be read (logged): a describe never fails on it."""
    if runtime.registry is None:
        return version.status
    try:
        return runtime.registry.current_status(version.model, version.version)
    except Exception:
        logger.warning(
            "status of %s v%s unreadable; answering the one read at load",
            version.model,
            version.version,
            exc_info=True,
        )
        return version.status


def describe_runtime(runtime: ServingRuntime) -> dict[str, Any]:
    """GET /models/{model}: what serves, its schema, metrics and where it came from."""
    model, version, _ = runtime.require_model()
    lineage = version.lineage
    return {
        "model": version.model,
        "version": version.version,
        "status": current_status(runtime, version),
        "function_version": runtime.settings.function_version,
        "task": model.metadata.task,
        "classes": version.classes,
        "features": version.feature_schema,
        "metrics": version.metrics,
        "trained_at": version.created_at,
        "lineage": {
            key: lineage.get(key)
            for key in (
                "data_bucket",
                "data_key",
                "data_version_id",
                "data_sha256",
                "data_rows",
                "spec_hash",
                "code_version",
                "libraries",
            )
        },
        "artifact_sha256": version.model_artifact.sha256,
    }
