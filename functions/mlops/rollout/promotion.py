"""Manual promotion: the same code path the rollout reconciler will use."""

from __future__ import annotations

from typing import Any

from mlops.registry import ModelVersion, RegistryError, RegistryStore
from mlops.registry.artifacts import ArtifactStore
from mlops.rollout.ensure import ServingState, ensure_serving


class PromotionError(RegistryError):
    """The version cannot be promoted (wrong status, or the pointer moved meanwhile)."""


def verify_servable(record: ModelVersion, artifacts: ArtifactStore) -> None:
    """Fetch the version's artifact, check its sha256 against the registry and build the
    session, as the predict function will: PromotionError if any step fails.

    Run before any traffic moves: promoting a version whose artifact failed the check once
    exited 0 and turned every request into a 503.
    """
    from mlops.inference.exceptions import ModelLoadError

    try:
        data = artifacts.get_verified(record.model_artifact)
        from mlops.inference.session import OnnxModel  # onnxruntime: only where a model loads

        OnnxModel(data)
    except (ModelLoadError, KeyError) as error:
        raise PromotionError(
            f"{record.model} v{record.version} cannot be served ({error}); production and "
            "alias live are unchanged"
        ) from error


def promote(
    registry: RegistryStore,
    lambda_client: Any,
    function_name: str,
    model: str,
    version: int,
    *,
    artifacts: ArtifactStore,
) -> ServingState:
    """Point production at `version` (conditional on the pointer not moving meanwhile), then
    make `live` serve it. Rejected or failed versions cannot be promoted, nor a version whose
    artifact fails its sha256 check or does not load (`verify_servable`, before anything
    moves)."""
    record = registry.get_version(model, version)
    if record.status not in ("registered", "canary", "production", "archived"):
        raise PromotionError(
            f"{model} v{version} is {record.status}; only registered versions can be promoted"
        )
    verify_servable(record, artifacts)
    current = registry.get_pointers(model).production
    if current != version and not registry.set_production(model, version, expected=current):
        raise PromotionError(f"{model}'s production pointer moved while promoting; retry")
    return ensure_serving(lambda_client, registry, function_name, model)
