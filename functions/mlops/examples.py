"""Example training files for the shipped specs, written from datasets that ship with
scikit-learn (nothing is downloaded), plus deliberately broken files for demos and tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def iris_csv() -> bytes:
    """Iris with the species name as the target (models/iris.toml)."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return _csv_bytes(
        [*data.feature_names, "species"],
        (
            [*(f"{value:g}" for value in row), data.target_names[label]]
            for row, label in zip(data.data, data.target, strict=True)
        ),
    )


def diabetes_csv() -> bytes:
    """Unscaled diabetes progression, `sex` as a categorical (models/diabetes.toml)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    rows = []
    for row, target in zip(data.data, data.target, strict=True):
        values = [f"{value:g}" for value in row]
        values[1] = str(int(row[1]))
        rows.append([*values, f"{target:g}"])
    return _csv_bytes([*data.feature_names, "progression"], rows)


EXAMPLES: dict[str, Callable[[], bytes]] = {"iris": iris_csv, "diabetes": diabetes_csv}


def broken_iris_csv() -> bytes:
    """An iris file a careless export could produce: a word in a numeric column, a petal
    measured in millimetres and a row without its label. Training must refuse it and name
    all three."""
    lines = iris_csv().decode().splitlines()
    for line_index, column, value in ((5, 0, "five"), (40, 2, "45"), (77, 4, "")):
        cells = lines[line_index].split(",")
        cells[column] = value
        lines[line_index] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def write_examples(folder: Path) -> list[Path]:
    """Write every example CSV (and one broken file) into `folder`; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in EXAMPLES.items():
        path = folder / f"{name}.csv"
        path.write_bytes(make())
        written.append(path)
    broken = folder / "iris-broken.csv"
    broken.write_bytes(broken_iris_csv())
    written.append(broken)
    return written
