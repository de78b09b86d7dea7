"""The model spec: shipped specs load, bad specs fail with a readable reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlops.spec import (
    ModelSpec,
    SpecError,
    UnknownModelError,
    load_all_specs,
    load_spec,
    parse_spec,
)
from mlops.training.pipeline import build_estimator

MODELS = Path(__file__).resolve().parents[2] / "models"


def _base(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "m",
        "task": "classification",
        "target": "y",
        "features": [{"name": "x", "type": "numeric"}],
        "estimator": {"name": "logistic_regression", "params": {"C": 1.0}},
        "quality_gate": {"metric": "accuracy", "threshold": 0.5},
    }
    spec.update(changes)
    return spec


def test_shipped_specs_load_and_their_params_exist() -> None:
    specs = load_all_specs(MODELS)
    assert {"iris", "diabetes"} <= set(specs)
    for spec in specs.values():
        build_estimator(spec)  # raises SpecError on unknown hyper-parameters


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"estimator": {"name": "sklearn.svm.SVC"}}, "not on the allow-list"),
        ({"estimator": {"name": "ridge"}}, "is for regression"),
        ({"quality_gate": {"metric": "rmse", "threshold": 1}}, "does not apply to classification"),
        ({"features": [{"name": "x", "type": "categorical"}]}, "need `categories`"),
        ({"features": [{"name": "x", "type": "numeric", "min": 2, "max": 1}]}, "min 2.0 > max 1.0"),
        ({"features": [{"name": "y", "type": "numeric"}]}, "also listed as a feature"),
        ({"features": [{"name": "x", "type": "numeric"}] * 2}, "duplicate feature names"),
        ({"name": "Bad Name"}, "String should match pattern"),
        ({"unexpected": 1}, "Extra inputs are not permitted"),
        ({"canary": {"traffic_percent": 90}}, "less than or equal to 50"),
        ({"canary": {"evaluation_minutes": 45}}, "the bake needs at least one look"),
        ({"canary": {"on_extension_limit": "wait"}}, "'rollback' or 'promote'"),
        ({"canary": {"false_rollback_rate": 0}}, "greater than 0"),
        ({"canary": {"minimum_effect": 1}}, "greater than 1"),
        ({"canary": {"max_error_rate": 0.6}}, "minimum_effect x max_error_rate"),
        ({"canary": {"shadow": {"min_inputs": 0}}}, "greater than or equal to 1"),
        ({"canary": {"shadow": {"typo": 1}}}, "Extra inputs are not permitted"),
        ({"canary": {"shadow": {"requests": 50}}}, "no replay could ever reach a verdict"),
        ({"drift": {"capture_sample_rate": 2}}, "less than or equal to 1"),
    ],
)
def test_invalid_spec_is_refused_with_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("(", r"\(")):
        ModelSpec.model_validate(_base(**changes))


def test_unknown_hyper_parameter_is_a_spec_error() -> None:
    spec = ModelSpec.model_validate(
        _base(estimator={"name": "logistic_regression", "params": {"trees": 3}})
    )
    with pytest.raises(SpecError, match=r"no parameter\(s\) \['trees'\]"):
        build_estimator(spec)


def test_spec_file_name_must_match(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text((MODELS / "iris.toml").read_text())
    with pytest.raises(SpecError, match=r"must be 'iris\.toml'"):
        parse_spec(tmp_path / "other.toml")


def test_unknown_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="no model named 'ghost'"):
        load_spec("ghost", tmp_path)


def test_spec_hash_is_stable_and_sensitive() -> None:
    spec = ModelSpec.model_validate(_base())
    same = ModelSpec.model_validate(json.loads(json.dumps(_base())))
    other = ModelSpec.model_validate(_base(target="z"))
    assert spec.spec_hash() == same.spec_hash() != other.spec_hash()


def test_json_schema_documents_every_field() -> None:
    schema = ModelSpec.model_json_schema()
    assert {
        "name",
        "task",
        "target",
        "features",
        "estimator",
        "split",
        "data",
        "quality_gate",
        "canary",
        "drift",
    } <= set(schema["properties"])


def test_an_edited_spec_is_read_again(tmp_path: Path) -> None:
    spec_file = tmp_path / "iris.toml"
    spec_file.write_text((MODELS / "iris.toml").read_text())
    assert load_spec("iris", tmp_path).quality_gate.threshold == 0.85
    spec_file.write_text(spec_file.read_text().replace("threshold = 0.85", "threshold = 0.5"))
    assert load_spec("iris", tmp_path).quality_gate.threshold == 0.5
