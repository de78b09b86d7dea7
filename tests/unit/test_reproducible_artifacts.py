"""The same file, spec and code give the same model.onnx bytes, so the artifact's sha256 in
the registry proves which data made a model (docs/training.md "Artifacts")."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from mlops.dataset.reader import read_training_csv
from mlops.examples import diabetes_csv, iris_csv
from mlops.spec import ModelSpec, load_spec
from mlops.training.trainer import fit_candidate

MODELS = Path(__file__).resolve().parents[2] / "models"


def _sha256_of_fits(spec: ModelSpec, data: bytes, times: int = 3) -> set[str]:
    return {
        hashlib.sha256(fit_candidate(spec, read_training_csv(data, spec)).onnx_bytes).hexdigest()
        for _ in range(times)
    }


@pytest.mark.parametrize(("model", "data"), [("iris", iris_csv), ("diabetes", diabetes_csv)])
def test_the_same_inputs_give_the_same_onnx_bytes(model: str, data: object) -> None:
    assert callable(data)
    assert len(_sha256_of_fits(load_spec(model, MODELS), data())) == 1


def test_a_spec_without_random_state_is_reproducible_too() -> None:
    raw = tomllib.loads((MODELS / "iris.toml").read_text())
    raw["estimator"]["params"].pop("random_state", None)
    raw["estimator"]["params"]["n_estimators"] = 20
    spec = ModelSpec.model_validate(raw)
    assert len(_sha256_of_fits(spec, iris_csv())) == 1
