"""Configuration that reaches a function through its environment, read in one place.

CDK (or the local stack) sets these variables; code never hard-codes a resource name.

Plain frozen dataclasses read by `from_environment`, not pydantic-settings: importing
pydantic-settings cost ~145 ms of the predict function's cold start on this project's machine
(benchmarks/results/latest.md), for eight variables whose checks fit in a few lines here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A variable is missing or out of range; the message names it."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


def _number(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, integer: bool
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    return int(_number(env, name, default, minimum=minimum, integer=True))


@dataclass(frozen=True)
class TrainSettings:
    """What the train function needs."""

    model_bucket: str
    registry_table: str
    alerts_topic_arn: str
    event_bus_name: str = "default"
    # A file larger than this cannot be parsed within the function's memory (the CSV is read
    # into Python objects, ~13x its size measured); refuse it before downloading it. CDK sets
    # memory / 20.
    max_training_file_mb: float = 150.0
    code_version: str = "dev"
    # A run left 'running' longer than this (a crashed invocation) may be taken over.
    run_lease_seconds: int = 1000

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> TrainSettings:
        env = os.environ if env is None else env
        max_mb = _number(env, "MAX_TRAINING_FILE_MB", 150.0, minimum=0.001, integer=False)
        return cls(
            model_bucket=_required(env, "MODEL_BUCKET"),
            registry_table=_required(env, "REGISTRY_TABLE"),
            alerts_topic_arn=_required(env, "ALERTS_TOPIC_ARN"),
            event_bus_name=env.get("EVENT_BUS_NAME") or "default",
            max_training_file_mb=max_mb,
            code_version=env.get("CODE_VERSION") or "dev",
            run_lease_seconds=_int(env, "RUN_LEASE_SECONDS", 1000, minimum=1),
        )


@dataclass(frozen=True)
class PredictSettings:
    """What the predict function needs; MODEL_VERSION is pinned per published version."""

    model_name: str
    model_bucket: str
    registry_table: str
    model_version: int = 0
    capture_stream: str = ""
    max_batch_rows: int = 1000
    max_body_bytes: int = 1_000_000
    code_version: str = "dev"
    # Test-only fault injection on this version (mlops.serving.faults): "error", "slow:<ms>" or
    # "invalid". Empty in every deployed configuration.
    fault_injection: str = ""
    # The function version this environment runs ("$LATEST" or the published number), which
    # Lambda sets in every version's environment (AWS_LAMBDA_FUNCTION_VERSION): a dimension of
    # the predict metrics and a field of capture records, so a code canary (same model version
    # as production) is judged on its own traffic (mlops.rollout.evidence).
    function_version: str = "$LATEST"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> PredictSettings:
        env = os.environ if env is None else env
        return cls(
            model_name=_required(env, "MODEL_NAME"),
            model_bucket=_required(env, "MODEL_BUCKET"),
            registry_table=_required(env, "REGISTRY_TABLE"),
            model_version=_int(env, "MODEL_VERSION", 0, minimum=0),
            capture_stream=env.get("CAPTURE_STREAM", ""),
            max_batch_rows=_int(env, "MAX_BATCH_ROWS", 1000, minimum=1),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1_000_000, minimum=1),
            code_version=env.get("CODE_VERSION") or "dev",
            fault_injection=env.get("MLOPS_FAULT_INJECTION", ""),
            function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION") or "$LATEST",
        )


@dataclass(frozen=True)
class RolloutSettings:
    """What the rollout function (the reconciler) needs."""

    registry_table: str
    model_bucket: str
    capture_bucket: str
    alerts_topic_arn: str
    resource_prefix: str
    metrics_namespace: str = "ServerlessMlops"
    # Seconds per minute of the specs' bake, evaluation and extension times. 60 on AWS; the
    # local stack scales them down (MLOPS_ROLLOUT_MINUTE_SECONDS=1: a 30-minute bake takes 30 s).
    minute_seconds: float = 60.0
    # The models with a deployed predict function (CDK sets it from the specs): an event for any
    # other model is skipped, so the reconciler never touches a function the stack lacks.
    model_names: tuple[str, ...] | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> RolloutSettings:
        env = os.environ if env is None else env
        return cls(
            registry_table=_required(env, "REGISTRY_TABLE"),
            model_bucket=_required(env, "MODEL_BUCKET"),
            capture_bucket=_required(env, "CAPTURE_BUCKET"),
            alerts_topic_arn=_required(env, "ALERTS_TOPIC_ARN"),
            resource_prefix=_required(env, "RESOURCE_PREFIX"),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or "ServerlessMlops",
            minute_seconds=_number(
                env, "MLOPS_ROLLOUT_MINUTE_SECONDS", 60.0, minimum=0.01, integer=False
            ),
            model_names=tuple(filter(None, env["MODEL_NAMES"].split(",")))
            if "MODEL_NAMES" in env
            else None,
        )


@dataclass(frozen=True)
class DriftSettings:
    """What the drift function needs: where capture, reports, artifacts and state live."""

    model_bucket: str
    capture_bucket: str
    registry_table: str
    alerts_topic_arn: str
    # A check left 'running' longer than this (a crashed invocation) may be taken over; above
    # the function's timeout so a live check is never taken over.
    check_lease_seconds: int = 960
    # Optional: only a spec with retrain_on_drift uses it.
    data_bucket: str = ""

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> DriftSettings:
        env = os.environ if env is None else env
        return cls(
            model_bucket=_required(env, "MODEL_BUCKET"),
            capture_bucket=_required(env, "CAPTURE_BUCKET"),
            registry_table=_required(env, "REGISTRY_TABLE"),
            alerts_topic_arn=_required(env, "ALERTS_TOPIC_ARN"),
            check_lease_seconds=_int(env, "CHECK_LEASE_SECONDS", 960, minimum=1),
            data_bucket=env.get("DATA_BUCKET", ""),
        )
