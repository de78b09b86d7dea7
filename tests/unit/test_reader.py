"""Parsing a training CSV against its spec (pure: no AWS)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.dataset import DataValidationError, check_file_size, read_training_csv
from mlops.spec import ModelSpec

SPEC = ModelSpec.model_validate(
    {
        "name": "m",
        "task": "classification",
        "target": "y",
        "features": [
            {"name": "x", "type": "numeric", "min": 0},
            {"name": "colour", "type": "categorical", "categories": ["red", "blue"]},
        ],
        "estimator": {"name": "logistic_regression"},
        "data": {"min_rows": 10, "max_missing_fraction": 0.2},
        "quality_gate": {"metric": "accuracy", "threshold": 0.5},
    }
)


def _csv(rows: list[str], header: str = "x,colour,y") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _good_rows() -> list[str]:
    return [f"{i},{'red' if i % 2 else 'blue'},{'a' if i % 3 else 'b'}" for i in range(12)]


def test_good_file_parses_into_arrays_in_spec_order() -> None:
    data = read_training_csv(_csv(_good_rows()), SPEC)
    assert data.row_count == 12
    assert data.numeric.shape == (12, 1) and data.numeric.dtype == np.float64
    assert data.categorical[:3, 0].tolist() == ["blue", "red", "blue"]
    assert set(data.target) == {"a", "b"}


def test_columns_are_found_by_name_and_extra_columns_ignored() -> None:
    rows = [
        f"{y},extra{i},{colour},{x}"
        for i, (x, colour, y) in enumerate(row.split(",") for row in _good_rows())
    ]
    data = read_training_csv(_csv(rows, header="y,note,colour,x"), SPEC)
    assert data.numeric[:, 0].tolist() == [float(i) for i in range(12)]


def test_utf8_bom_and_missing_tokens() -> None:
    rows = _good_rows()
    rows[0] = "NA,red,a"
    rows[1] = ",,b"
    data = read_training_csv(b"\xef\xbb\xbf" + _csv(rows), SPEC)
    assert np.isnan(data.numeric[0, 0]) and np.isnan(data.numeric[1, 0])
    assert data.missing_counts == {"x": 2, "colour": 1}
    assert data.categorical[1, 0] in {"red", "blue"}  # filled with the most frequent value


def test_every_problem_is_reported_at_once() -> None:
    rows = _good_rows()
    rows[2] = "abc,red,a"
    rows[3] = "1,green,a"
    rows[4] = "-5,red,"
    with pytest.raises(DataValidationError) as raised:
        read_training_csv(_csv(rows), SPEC)
    codes = [problem.code for problem in raised.value.problems]
    assert codes == ["non_numeric_value", "unknown_category", "missing_target"]
    assert "'abc' at line 4" in str(raised.value)


def test_out_of_bounds_is_only_checked_on_parsable_columns() -> None:
    rows = _good_rows()
    rows[5] = "-1,red,a"
    with pytest.raises(DataValidationError, match=r"outside \[0.0, None\] \(first: -1 at line 7\)"):
        read_training_csv(_csv(rows), SPEC)


def test_size_limit_is_checked_before_download() -> None:
    check_file_size(1024 * 1024, 1.0)
    with pytest.raises(
        DataValidationError, match=r"1\.0 MB; the train function accepts at most 0\.5"
    ):
        check_file_size(1024 * 1024, 0.5)
