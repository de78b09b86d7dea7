"""Per-model concurrency: the spec's [serving] reserved_concurrency reaches that model's predict
function only; without it no function reserves any (a new account's quota could not)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from infra.bundling import MODELS_DIR
from tests.infra.conftest import Synthesized, synthesize


def _reservations(synthesized: Synthesized) -> dict[str, Any]:
    """Physical function name -> ReservedConcurrentExecutions (None: not set)."""
    return {
        str(function["Properties"].get("FunctionName", logical_id)): function["Properties"].get(
            "ReservedConcurrentExecutions"
        )
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
    }


def test_the_shipped_specs_reserve_nothing(synthesized: Synthesized):
    reservations = _reservations(synthesized)
    assert "mlops-dev-predict-iris" in reservations
    assert set(reservations.values()) == {None}


def test_a_models_reservation_reaches_its_predict_function_only(
    tmp_path: Path, inference_layer_dir: Path
):
    specs = tmp_path / "models"
    shutil.copytree(MODELS_DIR, specs)
    iris = specs / "iris.toml"
    iris.write_text(iris.read_text() + "\n[serving]\nreserved_concurrency = 7\n")
    synthesized = synthesize(
        tmp_path / "cdk.out", inference_layer_dir, checks=False, specs_dir=specs
    )
    reservations = _reservations(synthesized)
    assert reservations.pop("mlops-dev-predict-iris") == 7
    assert reservations["mlops-dev-predict-diabetes"] is None
    assert set(reservations.values()) == {None}
