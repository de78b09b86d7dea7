"""The stored form: reference and capture windows round-trip through Parquet, capped and seeded."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from mlops.drift import (
    Columns,
    DriftInputError,
    check_drift,
    columns_to_parquet,
    compact_capture,
    read_columns,
    reference_from_baseline,
    write_reference,
)
from mlops.spec import ModelSpec
from mlops.training.baseline import build_baseline


def _spec() -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "name": "m",
            "task": "classification",
            "target": "y",
            "features": [
                {"name": "age", "type": "numeric"},
                {"name": "plan", "type": "categorical", "categories": ["basic", "pro"]},
            ],
            "estimator": {"name": "logistic_regression"},
            "quality_gate": {"metric": "accuracy", "threshold": 0.5},
        }
    )


def _columns(rows: int, seed: int = 0) -> Columns:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, rows)
    age[::7] = np.nan
    plan = rng.choice(["basic", "pro"], rows).astype(object)
    plan[::11] = None
    return Columns({"age": age}, {"plan": plan})


def test_columns_round_trip_with_missing_values() -> None:
    columns = _columns(1_000)
    stored = read_columns(columns_to_parquet(columns, {"kind": "test"}))
    np.testing.assert_array_equal(stored.columns.numeric["age"], columns.numeric["age"])
    assert stored.columns.categorical["plan"].tolist() == columns.categorical["plan"].tolist()
    assert stored.metadata == {"kind": "test"}


def test_a_local_path_reads_like_bytes(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "window.parquet"  # type: ignore[operator]
    path.write_bytes(columns_to_parquet(_columns(50)))
    assert read_columns(path).columns.rows == 50


def test_the_reference_is_capped_by_a_seeded_sample_that_keeps_rows_whole() -> None:
    rows = 5_000
    index = np.arange(rows, dtype=np.float64)
    columns = Columns({"age": index, "twice": index * 2})
    first = read_columns(write_reference(columns, seed=7, cap=1_000))
    again = read_columns(write_reference(columns, seed=7, cap=1_000))
    other = read_columns(write_reference(columns, seed=8, cap=1_000))
    kept = first.columns.numeric["age"]
    assert kept.size == 1_000
    np.testing.assert_array_equal(first.columns.numeric["twice"], kept * 2)  # rows stay whole
    np.testing.assert_array_equal(kept, np.sort(kept))  # original order
    np.testing.assert_array_equal(again.columns.numeric["age"], kept)  # seeded
    assert not np.array_equal(other.columns.numeric["age"], kept)
    assert first.metadata == {
        "kind": "reference",
        "rows_before_sampling": rows,
        "cap": 1_000,
        "seed": 7,
    }


def test_a_reference_under_the_cap_is_stored_whole() -> None:
    columns = _columns(300)
    stored = read_columns(write_reference(columns, seed=1, cap=1_000))
    assert stored.columns.rows == 300


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(DriftInputError, match="equal lengths"):
        columns_to_parquet(Columns({"a": np.zeros(3), "b": np.zeros(4)}))


def test_bytes_that_are_not_parquet_are_refused() -> None:
    with pytest.raises(DriftInputError, match="not a columnar drift file"):
        read_columns(b'{"capture": true}\n')


def _record(kind: str, version: int, **payload: object) -> bytes:
    return orjson.dumps({"capture": True, "kind": kind, "model_version": version, **payload})


def test_capture_compacts_inputs_and_every_prediction() -> None:
    lines = [
        _record(
            "prediction",
            3,
            outputs=["yes", "no"],
            inputs=[{"age": 31, "plan": "pro"}, {"age": 40.5, "plan": "gold"}],
        ),
        _record("prediction", 3, outputs=["no"]),  # inputs not sampled
        _record("feedback", 3, feedback=[{"request_id": "r", "actual": "yes"}]),
        _record("prediction", 2, outputs=["yes"], inputs=[{"age": 1, "plan": "basic"}]),
        b"",
    ]
    window = compact_capture(lines, _spec(), model_version=3)
    assert window.requests == 2
    assert window.predictions.tolist() == ["yes", "no", "no"]
    assert window.inputs.numeric["age"].tolist() == [31.0, 40.5]
    assert window.inputs.categorical["plan"].tolist() == ["pro", "gold"]
    inputs, predictions = window.to_parquet()
    assert read_columns(inputs).columns.categorical["plan"].tolist() == ["pro", "gold"]
    assert read_columns(predictions).columns.categorical["prediction"].tolist() == [
        "yes",
        "no",
        "no",
    ]


def test_a_value_of_the_wrong_type_is_stored_as_missing() -> None:
    lines = [_record("prediction", 1, outputs=["no"], inputs=[{"age": "abc", "plan": 3}])]
    window = compact_capture(lines, _spec())
    assert np.isnan(window.inputs.numeric["age"][0])
    assert window.inputs.categorical["plan"].tolist() == [None]


def test_an_old_version_is_checked_against_its_baseline_and_says_so() -> None:
    spec = _spec()
    rng = np.random.default_rng(3)
    rows = 3_000
    numeric = rng.normal(40, 10, (rows, 1))
    categorical = rng.choice(["basic", "pro"], (rows, 1)).astype(object)
    predictions = rng.choice(["no", "yes"], 600)
    baseline = build_baseline(spec, numeric, categorical, predictions, ["no", "yes"])
    reference, reference_predictions = reference_from_baseline(baseline, spec)
    assert reference.numeric["age"].size == 500
    assert reference.categorical["plan"].size == pytest.approx(rows, abs=2)
    window = Columns(
        {"age": rng.normal(40, 10, 5_000)},
        {"plan": rng.choice(["basic", "pro"], 5_000).astype(object)},
    )
    report = check_drift(
        spec,
        reference,
        window,
        reference_predictions=reference_predictions,
        window_predictions=rng.choice(["no", "yes"], 5_000),
        reference_kind="baseline_sample",
    )
    assert report.reference_kind == "baseline_sample"
    assert any("baseline.json" in note for note in report.notes)
    age = report.features[0]
    assert age.n_reference == 500
    assert age.detectable_effect is not None and age.detectable_effect > 0.2
