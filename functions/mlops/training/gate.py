"""Champion/challenger: does the candidate clear the floor and hold its own against production?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from mlops.spec import HIGHER_IS_BETTER, ModelSpec


@dataclass(frozen=True)
class GateDecision:
    registered: bool
    reason: str
    comparison: dict[str, Any]

    @property
    def status(self) -> Literal["registered", "rejected"]:
        return "registered" if self.registered else "rejected"


def decide(
    spec: ModelSpec,
    candidate: dict[str, float],
    production: dict[str, float] | None,
    production_version: int | None,
) -> GateDecision:
    """Apply the spec's gate. `production` holds the production model's metrics on the *same*
    held-out rows (None when nothing is in production)."""
    gate = spec.quality_gate
    higher = HIGHER_IS_BETTER[gate.metric]
    value = candidate[gate.metric]
    comparison: dict[str, Any] = {
        "metric": gate.metric,
        "candidate": value,
        "threshold": gate.threshold,
        "max_regression": gate.max_regression,
        "higher_is_better": higher,
        "production_version": production_version,
        "production": production[gate.metric] if production else None,
    }

    def result(registered: bool, reason: str) -> GateDecision:
        comparison["decision"] = "registered" if registered else "rejected"
        comparison["reason"] = reason
        return GateDecision(registered, reason, comparison)

    if math.isnan(value):
        return result(False, f"{gate.metric} is undefined on the held-out split")
    meets_floor = value >= gate.threshold if higher else value <= gate.threshold
    if not meets_floor:
        word = "below the floor" if higher else "above the ceiling"
        return result(False, f"{gate.metric} {value:.4f} is {word} {gate.threshold}")
    if production is None:
        return result(
            True,
            f"{gate.metric} {value:.4f} meets {gate.threshold}; no production "
            "model to compare with",
        )
    reference = production[gate.metric]
    loss = (reference - value) if higher else (value - reference)
    if loss > gate.max_regression + 1e-12:
        return result(
            False,
            f"{gate.metric} {value:.4f} loses to production v"
            f"{production_version} ({reference:.4f}) by {loss:.4f}, more than the "
            f"allowed {gate.max_regression}",
        )
    return result(
        True,
        f"{gate.metric} {value:.4f} meets {gate.threshold} and is within "
        f"{gate.max_regression} of production v{production_version} ({reference:.4f})",
    )
