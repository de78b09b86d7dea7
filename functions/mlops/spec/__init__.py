"""Model specs: one TOML file per model, validated by pydantic.

Names are imported on first use (PEP 562): the predict function reads only its capture sample
rate (`mlops.spec.files`), and importing this package must not build the pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.lazy import lazy_exports

if TYPE_CHECKING:
    from mlops.spec.estimators import ESTIMATORS, EstimatorEntry
    from mlops.spec.exceptions import SpecError, UnknownModelError
    from mlops.spec.files import default_specs_dir
    from mlops.spec.loader import load_all_specs, load_spec, parse_spec
    from mlops.spec.model import (
        HIGHER_IS_BETTER,
        CanaryPolicy,
        DataPolicy,
        DriftPolicy,
        Estimator,
        Feature,
        ModelSpec,
        QualityGate,
        ServingPolicy,
        Split,
    )

_HOMES = {
    "mlops.spec.estimators": ("ESTIMATORS", "EstimatorEntry"),
    "mlops.spec.exceptions": ("SpecError", "UnknownModelError"),
    "mlops.spec.files": ("default_specs_dir",),
    "mlops.spec.loader": ("load_all_specs", "load_spec", "parse_spec"),
    "mlops.spec.model": (
        "HIGHER_IS_BETTER",
        "CanaryPolicy",
        "DataPolicy",
        "DriftPolicy",
        "Estimator",
        "Feature",
        "ModelSpec",
        "QualityGate",
        "ServingPolicy",
        "Split",
    ),
}
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
    "ServingPolicy",
    "SpecError",
    "Split",
    "UnknownModelError",
    "default_specs_dir",
    "load_all_specs",
    "load_spec",
    "parse_spec",
]

__getattr__ = lazy_exports(__name__, _HOMES, globals())
