"""A malformed CSV names the line where it broke, in the file's own numbering (header = 1)."""

from __future__ import annotations

import pytest

from mlops.dataset import DataValidationError, read_training_csv
from tests.unit.test_reader import SPEC, _good_rows


def test_malformed_csv_names_its_line() -> None:
    rows = _good_rows()
    rows[4] = '4,"red"x,a'  # a quote closed in the middle of a field: line 6 of the file
    body = ("\n".join(["x,colour,y", *rows]) + "\n").encode()
    with pytest.raises(DataValidationError) as raised:
        read_training_csv(body, SPEC)
    [problem] = raised.value.problems
    assert problem.code == "malformed_csv"
    assert problem.message.startswith("line 6:"), problem.message
