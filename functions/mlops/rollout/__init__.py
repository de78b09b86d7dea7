"""Rollout: which function version serves which model version (ensure serving, promote)."""

from mlops.rollout.ensure import ServingState, ensure_serving, publish_pinned_version
from mlops.rollout.promotion import PromotionError, promote, verify_servable

__all__ = [
    "PromotionError",
    "ServingState",
    "ensure_serving",
    "promote",
    "publish_pinned_version",
    "verify_servable",
]
