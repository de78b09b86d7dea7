"""Manual promotion: the same code path the rollout reconciler will use."""

from __future__ import annotations

from typing import Any

from mlops.registry import RegistryError, RegistryStore
from mlops.rollout.ensure import ServingState, ensure_serving


class PromotionError(RegistryError):
    """The version cannot be promoted (wrong status, or the pointer moved meanwhile)."""


def promote(
    registry: RegistryStore, lambda_client: Any, function_name: str, model: str, version: int
) -> ServingState:
    """Point production at `version` (conditional on the pointer not moving meanwhile), then
    make `live` serve it. Rejected or failed versions cannot be promoted."""
    record = registry.get_version(model, version)
    if record.status not in ("registered", "canary", "production", "archived"):
        raise PromotionError(
            f"{model} v{version} is {record.status}; only registered versions can be promoted"
        )
    current = registry.get_pointers(model).production
    if current != version and not registry.set_production(model, version, expected=current):
        raise PromotionError(f"{model}'s production pointer moved while promoting; retry")
    return ensure_serving(lambda_client, registry, function_name, model)
