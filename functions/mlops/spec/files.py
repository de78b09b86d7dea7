"""Where spec files live, and the one setting the predict function reads from them.

Kept apart from the pydantic model (mlops.spec.model): the predict function needs only the
capture sample rate at a cold start, and building the spec models with pydantic cost ~30 ms
of it, pydantic's import ~60 ms more (benchmarks/results/latest.md). A unit test checks the
rate read here equals `load_spec(name).drift.capture_sample_rate` for every shipped spec.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

SPECS_DIR_ENV = "MLOPS_SPECS_DIR"
#: DriftPolicy.capture_sample_rate's default (mlops.spec.model).
DEFAULT_CAPTURE_SAMPLE_RATE = 0.1


def default_specs_dir() -> Path:
    """`$MLOPS_SPECS_DIR`, else the `models/` folder bundled beside the package.

    In the repository that is `<root>/models`; in a Lambda asset it is `/var/task/models`
    (the asset puts `models/` next to the `mlops` package).
    """
    configured = os.environ.get(SPECS_DIR_ENV)
    if configured:
        return Path(configured)
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir.parent / "models", package_dir.parents[1] / "models"):
        if candidate.is_dir():
            return candidate
    return package_dir.parent / "models"


def capture_sample_rate(name: str, specs_dir: Path | None = None) -> float | None:
    """The spec's `drift.capture_sample_rate` (its default if unset), or None when the spec
    file is missing or the value is not a number in [0, 1] (the caller captures no inputs)."""
    path = (specs_dir or default_specs_dir()) / f"{name}.toml"
    try:
        with path.open("rb") as source:
            drift = tomllib.load(source).get("drift", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(drift, dict):
        return None
    rate = drift.get("capture_sample_rate", DEFAULT_CAPTURE_SAMPLE_RATE)
    if type(rate) not in (int, float) or not 0 <= rate <= 1:
        return None
    return float(rate)


#: CanaryPolicy.max_p99_latency_ms's default (mlops.spec.model).
DEFAULT_MAX_P99_LATENCY_MS = 100.0


def canary_latency_limit_ms(name: str, specs_dir: Path | None = None) -> float | None:
    """The spec's `canary.max_p99_latency_ms` (its default if unset), or None when the spec is
    unreadable (then no request counts as slow). Read here for the same reason as the rate."""
    path = (specs_dir or default_specs_dir()) / f"{name}.toml"
    try:
        with path.open("rb") as source:
            canary = tomllib.load(source).get("canary", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(canary, dict):
        return None
    limit = canary.get("max_p99_latency_ms", DEFAULT_MAX_P99_LATENCY_MS)
    if type(limit) not in (int, float) or not limit > 0:
        return None
    return float(limit)
