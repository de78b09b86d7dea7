"""The spec's [serving] section: per-model reserved concurrency, off unless declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.spec import ModelSpec, SpecError, load_all_specs, parse_spec
from mlops.spec.model import MAX_RESERVED_CONCURRENCY

MODELS = Path(__file__).resolve().parents[2] / "models"
SPEC = """\
name = "m"
task = "classification"
target = "y"

[[features]]
name = "x"
type = "numeric"

[estimator]
name = "logistic_regression"

[quality_gate]
metric = "accuracy"
threshold = 0.5
"""


def _spec(tmp_path: Path, serving: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(SPEC + serving)
    return path


def test_no_reservation_unless_declared() -> None:
    for spec in load_all_specs(MODELS).values():
        assert spec.serving.reserved_concurrency is None


@pytest.mark.parametrize("value", [1, 50, MAX_RESERVED_CONCURRENCY])
def test_a_reservation_is_read(tmp_path: Path, value: int) -> None:
    spec = parse_spec(_spec(tmp_path, f"\n[serving]\nreserved_concurrency = {value}\n"))
    assert spec.serving.reserved_concurrency == value


def test_an_empty_serving_section_reserves_nothing(tmp_path: Path) -> None:
    assert parse_spec(_spec(tmp_path, "\n[serving]\n")).serving.reserved_concurrency is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 would throttle every request"),
        ("-5", "greater than or equal to 1"),
        (str(MAX_RESERVED_CONCURRENCY + 1), "less than or equal to 10000"),
        ("2.5", "valid integer"),
        ('"10"', "valid integer"),
        ("true", "valid integer"),
    ],
)
def test_a_bad_reservation_is_refused_with_its_reason(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(SpecError, match=rf"serving\.reserved_concurrency: .*{message}"):
        parse_spec(_spec(tmp_path, f"\n[serving]\nreserved_concurrency = {value}\n"))


def test_an_unknown_serving_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"serving\.max_concurrency: Extra inputs"):
        parse_spec(_spec(tmp_path, "\n[serving]\nmax_concurrency = 5\n"))


def test_the_json_schema_documents_the_field() -> None:
    schema: dict[str, Any] = ModelSpec.model_json_schema()
    field = schema["$defs"]["ServingPolicy"]["properties"]["reserved_concurrency"]
    assert "reserved" in field["description"]
