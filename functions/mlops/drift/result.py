"""The typed result of a drift check: one row per feature, the dataset verdict, and what the
check could have caught, so that 'no drift' always says at which n and against which effect.

JSON form: `DriftReport.to_dict()`; infinite or undefined numbers become null.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

#: drift: significant after correction AND effect above the negligible level.
#: negligible: significant, but the effect is at or below the negligible level.
#: no_drift: not significant (read it with `detectable_effect`).
#: insufficient_data: fewer values than the spec's `min_samples` on either side; not tested.
Verdict = Literal["drift", "negligible", "no_drift", "insufficient_data"]
DatasetVerdict = Literal["drift", "no_drift", "insufficient_data"]
QualityVerdict = Literal["degraded", "ok", "insufficient_data", "not_computed"]
#: training_columns: the version's stored training columns (`columnar.py`).
#: baseline_sample: an older version's baseline.json (500 values per numeric feature,
#: frequencies for categoricals): power is capped by the reference, as `detectable_effect` shows.
ReferenceKind = Literal["training_columns", "baseline_sample"]
CORRECTION = "holm"


@dataclass(frozen=True)
class FeatureDrift:
    """One test: a feature, or the predictions (`feature` = "prediction")."""

    feature: str
    kind: Literal["numeric", "categorical"]
    test: Literal["ks_2samp", "chi2_homogeneity", "none"]
    statistic: float | None
    p_value: float | None
    corrected_p_value: float | None
    effect: float | None
    effect_unit: Literal["sd_wasserstein", "js_distance"]
    negligible_effect: float
    min_effect: float
    detectable_effect: float | None
    n_reference: int
    n_current: int
    missing_current: int
    verdict: Verdict
    cramers_v: float | None = None
    unseen: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class QualityCheck:
    """The spec's metric on labelled traffic, its confidence interval, vs the held-out metric."""

    metric: str
    n: int
    value: float | None
    interval: tuple[float, float] | None
    confidence: float
    method: Literal["wilson", "bootstrap", "none"]
    held_out: float
    higher_is_better: bool
    verdict: QualityVerdict
    note: str = ""


@dataclass(frozen=True)
class DriftReport:
    """The dataset verdict names exactly the drifted features; nothing is decided by a share."""

    verdict: DatasetVerdict
    drifted: tuple[str, ...]
    prediction_drifted: bool
    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    quality: QualityCheck | None
    n_window: int
    n_reference: int
    alpha: float
    correction: str
    tests_in_family: int
    min_effect_sd: float
    detectable_effect_sd: float | None
    powered_for_min_effect: bool
    reference_kind: ReferenceKind
    untested: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _clean(dataclasses.asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
