"""The predict function's capture sample rate, read without the pydantic spec models."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.spec import load_spec
from mlops.spec.files import DEFAULT_CAPTURE_SAMPLE_RATE, capture_sample_rate
from mlops.spec.model import DriftPolicy

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("spec_file", sorted(MODELS.glob("*.toml")), ids=lambda p: p.stem)
def test_rate_matches_the_validated_spec(spec_file: Path) -> None:
    name = spec_file.stem
    assert capture_sample_rate(name, MODELS) == load_spec(name, MODELS).drift.capture_sample_rate


def test_default_matches_the_spec_model() -> None:
    assert DriftPolicy().capture_sample_rate == DEFAULT_CAPTURE_SAMPLE_RATE


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        ("", DEFAULT_CAPTURE_SAMPLE_RATE),
        ("[drift]\ncapture_sample_rate = 0.25\n", 0.25),
        ("[drift]\ncapture_sample_rate = 1\n", 1.0),
        ("[drift]\ncapture_sample_rate = 1.5\n", None),
        ("[drift]\ncapture_sample_rate = true\n", None),
        ('[drift]\ncapture_sample_rate = "0.1"\n', None),
        ("drift = 3\n", None),
        ("[drift\n", None),
    ],
)
def test_rates_outside_the_spec_model_are_refused(
    tmp_path: Path, drift: str, expected: float | None
) -> None:
    (tmp_path / "m.toml").write_text('name = "m"\n' + drift)
    assert capture_sample_rate("m", tmp_path) == expected


def test_missing_spec_has_no_rate(tmp_path: Path) -> None:
    assert capture_sample_rate("absent", tmp_path) is None
