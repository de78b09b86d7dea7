"""The model spec: everything a model declares once, validated by pydantic.

One TOML file per model in `models/`. The same object drives training (schema, estimator,
split, gate), serving (feature schema, capture rate) and the later rollout and drift slices
(canary and drift policies), so it is validated strictly: unknown keys are errors, not
silently ignored typos.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from mlops.spec.estimators import ESTIMATORS, Task

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
HIGHER_IS_BETTER = {
    "accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
Metric = Literal["accuracy", "f1_macro", "roc_auc", "log_loss", "rmse", "mae", "r2"]
ParamValue = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    """One input column: its name in the CSV and the API, its kind and what values are valid."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            description="Column name in the training CSV and field name in prediction requests.",
        ),
    ]
    type: Annotated[
        Literal["numeric", "categorical"],
        Field(
            description="numeric: a number (float32 at inference). categorical: a string from "
            "`categories`."
        ),
    ]
    min: Annotated[float | None, Field(description="Numeric only: smallest valid value.")] = None
    max: Annotated[float | None, Field(description="Numeric only: largest valid value.")] = None
    categories: Annotated[
        list[str] | None,
        Field(
            description="Categorical only: the allowed values. Required for categorical features.",
            min_length=1,
        ),
    ] = None
    description: str = ""

    @model_validator(mode="after")
    def _check_kind(self) -> Feature:
        if self.type == "numeric":
            if self.categories is not None:
                raise ValueError(f"feature '{self.name}': numeric features take no categories")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"feature '{self.name}': min {self.min} > max {self.max}")
        else:
            if self.min is not None or self.max is not None:
                raise ValueError(f"feature '{self.name}': categorical features take no min/max")
            if not self.categories:
                raise ValueError(f"feature '{self.name}': categorical features need `categories`")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"feature '{self.name}': duplicate categories")
        return self


class Estimator(_Strict):
    """Which allow-listed estimator to fit, with its hyper-parameters."""

    name: Annotated[
        str,
        Field(
            description="A key of the allow-list (see `mlops spec "
            "estimators`); never an import path."
        ),
    ]
    params: Annotated[
        dict[str, ParamValue],
        Field(description="Hyper-parameters passed to the estimator's constructor."),
    ] = {}

    @field_validator("name")
    @classmethod
    def _allowed(cls, value: str) -> str:
        if value not in ESTIMATORS:
            allowed = ", ".join(sorted(ESTIMATORS))
            raise ValueError(f"estimator '{value}' is not on the allow-list ({allowed})")
        return value


class Split(_Strict):
    """The held-out split: seeded, stratified for classification, so runs are reproducible."""

    test_fraction: Annotated[float, Field(gt=0.05, lt=0.5)] = 0.2
    seed: Annotated[int, Field(ge=0)] = 42


class DataPolicy(_Strict):
    """What the training file must satisfy beyond the feature schema."""

    min_rows: Annotated[int, Field(ge=10, description="Fewer data rows fail the run.")] = 50
    max_missing_fraction: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="Per feature column: the share of empty/NaN cells that is "
            "imputed; more fails the run. The target may never be missing.",
        ),
    ] = 0.05
    allow_infinite: Annotated[
        bool, Field(description="If false, inf/-inf in a numeric column fails the run.")
    ] = False
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


class QualityGate(_Strict):
    """The bar a candidate must clear to be registered."""

    metric: Metric
    threshold: Annotated[
        float,
        Field(
            description="Absolute floor (or ceiling for error "
            "metrics: log_loss, rmse, mae) on the held-out split."
        ),
    ]
    max_regression: Annotated[
        float,
        Field(
            ge=0,
            description="How much worse than the production model, in the metric's units, "
            "on the same held-out split, the candidate may be.",
        ),
    ] = 0.0

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[self.metric]


class ShadowPolicy(_Strict):
    """Shadow replay before a canary: the candidate answers captured inputs beside production
    (mlops.rollout.shadow). Too few inputs is not a failure: the canary starts and judges."""

    requests: Annotated[
        int, Field(ge=1, description="How many captured inputs are replayed (N).")
    ] = 1000
    min_inputs: Annotated[
        int, Field(ge=1, description="Fewer inputs: no verdict, the canary starts.")
    ] = 100
    max_class_flip_rate: Annotated[
        float, Field(gt=0, le=1, description="Classifiers: share of inputs whose label changes.")
    ] = 0.05
    max_relative_error: Annotated[
        float, Field(gt=0, description="Regressors: sum |candidate - production| / sum |prod|.")
    ] = 0.1
    max_psi: Annotated[
        float, Field(gt=0, description="Regressors: PSI of candidate vs production outputs.")
    ] = 0.2

    @model_validator(mode="after")
    def _check_inputs(self) -> ShadowPolicy:
        if self.requests < self.min_inputs:
            raise ValueError(
                f"canary.shadow: requests {self.requests} < min_inputs {self.min_inputs}; "
                "no replay could ever reach a verdict"
            )
        return self


class CanaryPolicy(_Strict):
    """How a registered candidate is released (used by the rollout slice).

    The last six fields parameterise the sequential test in mlops.rollout.decision (its
    docstring states the test; `make bench` shows its error rates by simulation)."""

    traffic_percent: Annotated[float, Field(gt=0, le=50)] = 10.0
    bake_minutes: Annotated[int, Field(ge=1, le=1440)] = 30
    min_requests: Annotated[int, Field(ge=0)] = 100
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    max_p99_latency_ms: Annotated[float, Field(gt=0)] = 100.0
    evaluation_minutes: Annotated[
        int, Field(ge=1, le=60, description="One look at the canary's counts per period.")
    ] = 5
    max_extension_minutes: Annotated[
        int, Field(ge=0, le=1440, description="How long the bake may be extended, undecided.")
    ] = 30
    false_rollback_rate: Annotated[
        float, Field(gt=0, le=0.2, description="Alpha over both metrics and every look.")
    ] = 0.05
    false_promotion_rate: Annotated[
        float, Field(gt=0, le=0.2, description="Beta: promoting at `minimum_effect` x limit.")
    ] = 0.05
    minimum_effect: Annotated[
        float,
        Field(
            gt=1,
            le=10,
            description="Promote only once rates of this multiple of the limit are excluded.",
        ),
    ] = 2.0
    on_extension_limit: Annotated[
        Literal["rollback", "promote"],
        Field(description="What an undecided canary gets when the extension runs out."),
    ] = "rollback"
    shadow: ShadowPolicy = ShadowPolicy()

    @model_validator(mode="after")
    def _check_looks(self) -> CanaryPolicy:
        if self.evaluation_minutes > self.bake_minutes:
            raise ValueError(
                f"canary: evaluation_minutes {self.evaluation_minutes} > bake_minutes "
                f"{self.bake_minutes}; the bake needs at least one look"
            )
        if self.minimum_effect * self.max_error_rate >= 1:
            raise ValueError("canary: minimum_effect x max_error_rate must stay below 1")
        return self


class DriftPolicy(_Strict):
    """How captured traffic is compared with the training baseline (used by the drift slice)."""

    schedule_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    capture_sample_rate: Annotated[
        float, Field(ge=0, le=1, description="Share of requests whose full inputs are captured.")
    ] = 0.1
    min_samples: Annotated[
        int,
        Field(ge=10, description="Fewer captured values: 'insufficient data', never 'no drift'."),
    ] = 200
    # The decision rule (docs/drift.md): a feature drifts when its test is significant
    # at `alpha` after Holm's correction over every feature tested AND its effect exceeds the
    # negligible level. The minimum effect is what a check is sized to catch (95% power): each
    # result reports the smallest effect it could have caught at its n against it.
    alpha: Annotated[
        float, Field(gt=0, le=0.2, description="Family-wise false-alarm rate of one check.")
    ] = 0.05
    min_effect_sd: Annotated[
        float,
        Field(gt=0, description="Numeric: the shift to catch, in training standard deviations."),
    ] = 0.1
    negligible_effect_sd: Annotated[
        float,
        Field(
            ge=0,
            description="Numeric: a Wasserstein-1 distance (in training standard "
            "deviations) at or below this never alerts, however significant.",
        ),
    ] = 0.05
    min_effect_js: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            description="Categorical and predicted classes: the change to catch, "
            "as a Jensen-Shannon distance (base 2).",
        ),
    ] = 0.1
    negligible_effect_js: Annotated[
        float,
        Field(ge=0, lt=1, description="Categorical: a JS distance never alerted at or below."),
    ] = 0.05

    # Optional, off by default: a drift alert also starts a training run from the newest CSV
    # under `retrain_from` (a prefix under `labelled/` in the data bucket, where the drift
    # function may read; docs/drift.md "Drift checks").
    retrain_on_drift: Annotated[
        bool,
        Field(description="On a drift alert, retrain from the newest CSV under retrain_from."),
    ] = False
    retrain_from: Annotated[
        str | None,
        Field(
            pattern=r"^labelled/[A-Za-z0-9._=/-]*$",
            description="Data-bucket prefix of labelled CSVs (under labelled/), e.g. "
            "labelled/iris/.",
        ),
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _retired_thresholds(cls, data: object) -> object:
        if isinstance(data, dict):
            retired = sorted({"psi_threshold", "ks_p_value"} & set(data))
            if retired:
                raise ValueError(
                    f"drift: {', '.join(retired)} no longer exist(s): a drift alert needs a test "
                    "corrected for the number of features and an effect size; set `alpha`, "
                    "`min_effect_sd` and `negligible_effect_sd` instead"
                )
        return data

    @model_validator(mode="after")
    def _retrain_needs_a_source(self) -> DriftPolicy:
        if self.retrain_on_drift and not self.retrain_from:
            raise ValueError("drift: retrain_on_drift needs retrain_from (e.g. 'labelled/iris/')")
        return self

    @model_validator(mode="after")
    def _negligible_below_minimum(self) -> DriftPolicy:
        for kind, negligible, minimum in (
            ("sd", self.negligible_effect_sd, self.min_effect_sd),
            ("js", self.negligible_effect_js, self.min_effect_js),
        ):
            if negligible >= minimum:
                raise ValueError(
                    f"drift: negligible_effect_{kind} {negligible} must be below "
                    f"min_effect_{kind} {minimum}"
                )
        return self


# A typo guard, not AWS's limit: AWS checks the account's real headroom at deploy (a reservation
# must leave at least 100 executions unreserved in the account).
MAX_RESERVED_CONCURRENCY = 10_000


class ServingPolicy(_Strict):
    """How the model's predict function runs (read by infra/serving.py at synth).

    `reserved_concurrency` caps the function (all versions and the canary together) at that many
    concurrent executions and sets them aside from the account's pool, so one model can neither
    take the account's whole concurrency nor be starved by another. Off by default: AWS refuses
    any reservation that leaves fewer than 100 executions unreserved, so on a new account (whose
    quota is often 10) every reservation fails the deploy; set it once the quota allows.
    TOML has no null: leave the key out for no reservation.
    """

    reserved_concurrency: Annotated[
        StrictInt | None,
        Field(
            ge=1,
            le=MAX_RESERVED_CONCURRENCY,
            description="Concurrent executions reserved for (and capping) this model's predict "
            "function; omitted: none reserved, the function shares the account's pool.",
        ),
    ] = None

    @field_validator("reserved_concurrency", mode="before")
    @classmethod
    def _zero_is_not_off(cls, value: object) -> object:
        if value == 0 and not isinstance(value, bool):
            raise ValueError(
                "0 would throttle every request (Lambda's off switch); leave the key out for "
                "no reservation"
            )
        return value


class ModelSpec(_Strict):
    """A model, declared once. Adding a model is adding one of these and deploying."""

    name: Annotated[
        str,
        Field(
            pattern=MODEL_NAME_PATTERN,
            description="Lower-case name used in S3 prefixes, API paths and function names.",
        ),
    ]
    task: Task
    target: Annotated[str, Field(min_length=1, description="Target column in the CSV.")]
    description: str = ""
    features: Annotated[list[Feature], Field(min_length=1)]
    estimator: Estimator
    split: Split = Split()
    data: DataPolicy = DataPolicy()
    quality_gate: QualityGate
    canary: CanaryPolicy = CanaryPolicy()
    drift: DriftPolicy = DriftPolicy()
    serving: ServingPolicy = ServingPolicy()

    @model_validator(mode="after")
    def _check_consistency(self) -> ModelSpec:
        names = [feature.name for feature in self.features]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate feature names: {duplicates}")
        if self.target in names:
            raise ValueError(f"target '{self.target}' is also listed as a feature")
        entry = ESTIMATORS[self.estimator.name]
        if entry.task != self.task:
            raise ValueError(
                f"estimator '{self.estimator.name}' is for {entry.task}, "
                f"but the task is {self.task}"
            )
        allowed = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        if self.quality_gate.metric not in allowed:
            raise ValueError(
                f"metric '{self.quality_gate.metric}' does not apply to "
                f"{self.task}; use one of {', '.join(allowed)}"
            )
        for key, value in self.estimator.params.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"estimator param '{key}' must be finite")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"estimator param '{key}' is not a parameter name")
        return self

    @property
    def numeric_features(self) -> list[Feature]:
        return [feature for feature in self.features if feature.type == "numeric"]

    @property
    def categorical_features(self) -> list[Feature]:
        return [feature for feature in self.features if feature.type == "categorical"]

    @property
    def ordered_features(self) -> list[Feature]:
        """Numeric features first, then categoricals: the column order of the model's input."""
        return self.numeric_features + self.categorical_features

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON form: lineage records which spec trained a version."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
