"""Model specs: one TOML file per model, validated by pydantic."""

from mlops.spec.estimators import ESTIMATORS, EstimatorEntry
from mlops.spec.exceptions import SpecError, UnknownModelError
from mlops.spec.loader import default_specs_dir, load_all_specs, load_spec, parse_spec
from mlops.spec.model import (
    HIGHER_IS_BETTER,
    CanaryPolicy,
    DataPolicy,
    DriftPolicy,
    Estimator,
    Feature,
    ModelSpec,
    QualityGate,
    Split,
)

__all__ = [
    "ESTIMATORS",
    "HIGHER_IS_BETTER",
    "CanaryPolicy",
    "DataPolicy",
    "DriftPolicy",
    "Estimator",
    "EstimatorEntry",
    "Feature",
    "ModelSpec",
    "QualityGate",
    "SpecError",
    "Split",
    "UnknownModelError",
    "default_specs_dir",
    "load_all_specs",
    "load_spec",
    "parse_spec",
]
