"""What an announced rollout transition counts for on the dashboards and alarms.

Every transition the reconciler records is announced exactly once (`mark_announced` after the
alert; at least once if the run dies in between), so the announcement is where its metrics
are written: a rollback, a promotion, a canary taking traffic, and the figures of the shadow
replay a candidate's canary or rejection was decided on. Pure: a transition in, values out.
"""

from __future__ import annotations

from typing import Any

from mlops.registry import Transition

ROLLBACKS = ("rolled_back", "code_rolled_back")
PROMOTIONS = ("promoted", "code_promoted")


def shadow_divergence(shadow: dict[str, Any]) -> float | None:
    """The replay's class-flip rate (classifiers) or relative error (regressors)."""
    flips = shadow.get("flips")
    if isinstance(flips, dict) and flips.get("rate") is not None:
        return float(flips["rate"])
    shift = shadow.get("shift")
    if isinstance(shift, dict) and shift.get("relative_error") is not None:
        return float(shift["relative_error"])
    return None


def transition_metrics(transition: Transition) -> dict[str, float]:
    """The outcome metrics (mlops.outcome_metrics.OUTCOME_METRICS["rollout"]) of one transition."""
    values: dict[str, float] = {}
    if transition.what in ROLLBACKS:
        values["rollbacks"] = 1
    elif transition.what in PROMOTIONS:
        values["promotions"] = 1
    elif transition.what == "canary_started":
        values["canary_starts"] = 1
    shadow = (transition.evidence or {}).get("shadow")
    if isinstance(shadow, dict):
        values["shadow_replays"] = 1
        values["shadow_diverged"] = 1 if shadow.get("verdict") == "diverged" else 0
        divergence = shadow_divergence(shadow)
        if divergence is not None:
            values["shadow_divergence"] = divergence
    return values
