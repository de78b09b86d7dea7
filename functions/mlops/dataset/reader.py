"""Parses a training CSV against its spec into arrays, or refuses it with every reason.

Validation is the first line of "nothing lost on bad input": a refused file fails its run
with a recorded reason and never reaches training. Each failure kind has its own code and a
message naming the column, the line and the offending value. Line numbers are the file's
own (the header is line 1), so a user can jump straight to them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

import numpy as np

from mlops.dataset.exceptions import DataProblem, DataValidationError
from mlops.spec import ModelSpec

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
MAX_EXAMPLES = 3
_OTHER_DELIMITERS = (";", "\t", "|")


@dataclass(frozen=True)
class TrainingData:
    """A validated training file: feature arrays in the spec's input order, and the target.

    `numeric` is float64 with NaN where a value was missing (the pipeline imputes it);
    `categorical` holds strings (missing cells filled with the column's most frequent value);
    `target` holds floats for regression and strings for classification.
    """

    numeric: np.ndarray
    categorical: np.ndarray
    target: np.ndarray
    missing_counts: dict[str, int]

    @property
    def row_count(self) -> int:
        return int(self.target.shape[0])


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataValidationError(
            [
                DataProblem(
                    "not_utf8",
                    f"file is not UTF-8 text (byte 0x{content[error.start]:02x} at offset "
                    f"{error.start}); save it as UTF-8 CSV",
                )
            ]
        ) from error


def _read_rows(text: str, spec: ModelSpec) -> tuple[list[str], list[list[str]]]:
    delimiter = spec.data.delimiter
    if not text.strip():
        raise DataValidationError([DataProblem("empty_file", "file is empty")])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as error:
        # line_num counts the file's own lines read so far (header = 1): where the parser
        # stopped, which a user can open in an editor.
        raise DataValidationError(
            [
                DataProblem(
                    "malformed_csv", f"line {reader.line_num}: file is not valid CSV: {error}"
                )
            ]
        ) from error
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]]
    expected = {spec.target, *(feature.name for feature in spec.features)}
    if len(header) == 1 and header[0] not in expected:
        for other in _OTHER_DELIMITERS:
            if other != delimiter and other in header[0]:
                shown = "tab" if other == "\t" else f"'{other}'"
                raise DataValidationError(
                    [
                        DataProblem(
                            "wrong_delimiter",
                            f"the header is one column split by {shown}; this model expects "
                            f"'{delimiter}'-separated values",
                        )
                    ]
                )
    data = rows[1:]
    if not data:
        raise DataValidationError(
            [DataProblem("no_data_rows", "file has a header but no data rows")]
        )
    return header, data


def _check_columns(header: list[str], data: list[list[str]], spec: ModelSpec) -> list[DataProblem]:
    problems: list[DataProblem] = []
    duplicated = sorted({name for name, count in Counter(header).items() if count > 1})
    if duplicated:
        problems.append(
            DataProblem("duplicate_columns", f"columns appear more than once: {duplicated}")
        )
    missing = [
        name for name in [spec.target, *(f.name for f in spec.features)] if name not in header
    ]
    if missing:
        problems.append(
            DataProblem("missing_columns", f"missing columns {missing}; the file has {header[:20]}")
        )
    ragged = [(index + 2, len(row)) for index, row in enumerate(data) if len(row) != len(header)]
    if ragged:
        line, count = ragged[0]
        problems.append(
            DataProblem(
                "ragged_rows",
                f"{len(ragged)} row(s) do not have {len(header)} fields (first: line {line} has "
                f"{count})",
            )
        )
    return problems


def _parse_numeric(name: str, cells: list[str]) -> tuple[np.ndarray, list[DataProblem]]:
    cleaned = ["nan" if _is_missing(cell) else cell.strip() for cell in cells]
    try:
        return np.array(cleaned, dtype=np.float64), []
    except ValueError:
        bad: list[tuple[int, str]] = []
        values = np.full(len(cleaned), np.nan)
        for index, cell in enumerate(cleaned):
            try:
                values[index] = float(cell)
            except ValueError:
                bad.append((index + 2, cells[index]))
        examples = ", ".join(f"'{value}' at line {line}" for line, value in bad[:MAX_EXAMPLES])
        return values, [
            DataProblem(
                "non_numeric_value",
                f"column '{name}' has {len(bad)} non-numeric value(s) ({examples}); "
                "expected a number",
            )
        ]


def _check_numeric_values(
    spec: ModelSpec, name: str, values: np.ndarray, bounds: tuple[float | None, float | None]
) -> list[DataProblem]:
    problems: list[DataProblem] = []
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size and not spec.data.allow_infinite:
        problems.append(
            DataProblem(
                "infinite_value",
                f"column '{name}' has {infinite.size} infinite value(s) (first at line "
                f"{infinite[0] + 2}); the spec does not allow them",
            )
        )
    low, high = bounds
    finite = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero(
            ((finite < low) if low is not None else False)
            | ((finite > high) if high is not None else False)
        )
    if outside.size:
        problems.append(
            DataProblem(
                "out_of_bounds",
                f"column '{name}' has {outside.size} value(s) outside [{low}, {high}] (first: "
                f"{finite[outside[0]]:g} at line {outside[0] + 2})",
            )
        )
    return problems


def _missing_problem(spec: ModelSpec, name: str, missing: int, rows: int) -> list[DataProblem]:
    allowed = spec.data.max_missing_fraction
    if missing and missing / rows > allowed:
        return [
            DataProblem(
                "too_many_missing",
                f"column '{name}' is missing in {missing} of {rows} rows ({missing / rows:.1%}); "
                f"the spec allows at most {allowed:.1%}",
            )
        ]
    return []


def _parse_target(spec: ModelSpec, cells: list[str]) -> tuple[np.ndarray, list[DataProblem]]:
    missing_lines = [index + 2 for index, cell in enumerate(cells) if _is_missing(cell)]
    problems: list[DataProblem] = []
    if missing_lines:
        problems.append(
            DataProblem(
                "missing_target",
                f"target '{spec.target}' is empty in {len(missing_lines)} row(s) (first at line "
                f"{missing_lines[0]}); every row needs a label",
            )
        )
    if spec.task == "regression":
        values, parse_problems = _parse_numeric(spec.target, cells)
        problems += parse_problems
        if not parse_problems and np.isinf(values).any():
            problems.append(
                DataProblem("infinite_value", f"target '{spec.target}' has infinite values")
            )
        return values, problems
    labels = np.array([cell.strip() for cell in cells], dtype=object)
    present = Counter(label for label in labels if not _is_missing(label))
    if len(present) == 1:
        only = next(iter(present))
        problems.append(
            DataProblem(
                "single_class_target",
                f"target '{spec.target}' has a single class ('{only}'); "
                "a classifier needs at least two",
            )
        )
    rare = sorted(label for label, count in present.items() if count < 2)
    if rare and len(present) > 1:
        problems.append(
            DataProblem(
                "class_too_small",
                f"target classes {rare[:MAX_EXAMPLES]} have fewer than 2 rows; a stratified split "
                "needs at least 2 of each class",
            )
        )
    return labels, problems


def read_training_csv(content: bytes, spec: ModelSpec) -> TrainingData:
    """Parse and validate a training file; raise DataValidationError listing every problem."""
    header, data = _read_rows(_decode(content), spec)
    problems = _check_columns(header, data, spec)
    if problems:
        raise DataValidationError(problems)
    rows = len(data)
    if rows < spec.data.min_rows:
        problems.append(
            DataProblem(
                "too_few_rows",
                f"file has {rows} data rows; the spec needs at least {spec.data.min_rows}",
            )
        )
    position = {name: index for index, name in enumerate(header)}
    columns = list(zip(*data, strict=True))
    missing_counts: dict[str, int] = {}

    numeric_columns: list[np.ndarray] = []
    for feature in spec.numeric_features:
        values, parse_problems = _parse_numeric(feature.name, list(columns[position[feature.name]]))
        problems += parse_problems
        if not parse_problems:
            problems += _check_numeric_values(
                spec, feature.name, values, (feature.min, feature.max)
            )
        missing = int(np.isnan(values).sum())
        missing_counts[feature.name] = missing
        problems += _missing_problem(spec, feature.name, missing, rows)
        numeric_columns.append(values)

    categorical_columns: list[np.ndarray] = []
    for feature in spec.categorical_features:
        cells = [cell.strip() for cell in columns[position[feature.name]]]
        allowed = set(feature.categories or [])
        unknown = Counter(cell for cell in cells if not _is_missing(cell) and cell not in allowed)
        if unknown:
            shown = ", ".join(f"'{value}'" for value, _ in unknown.most_common(MAX_EXAMPLES))
            problems.append(
                DataProblem(
                    "unknown_category",
                    f"column '{feature.name}' has {sum(unknown.values())} value(s) outside its "
                    f"categories ({shown}); allowed: {sorted(allowed)}",
                )
            )
        present = Counter(cell for cell in cells if not _is_missing(cell))
        missing = rows - sum(present.values())
        missing_counts[feature.name] = missing
        problems += _missing_problem(spec, feature.name, missing, rows)
        fill = present.most_common(1)[0][0] if present else ""
        categorical_columns.append(
            np.array([fill if _is_missing(cell) else cell for cell in cells], dtype=object)
        )

    target, target_problems = _parse_target(spec, list(columns[position[spec.target]]))
    problems += target_problems
    if problems:
        raise DataValidationError(problems)
    return TrainingData(
        numeric=np.column_stack(numeric_columns) if numeric_columns else np.empty((rows, 0)),
        categorical=(
            np.column_stack(categorical_columns)
            if categorical_columns
            else np.empty((rows, 0), dtype=object)
        ),
        target=target,
        missing_counts=missing_counts,
    )


def check_file_size(size_bytes: int, limit_mb: float) -> None:
    """Refuse a file too large for the function's memory before downloading it."""
    if size_bytes > limit_mb * 1024 * 1024:
        raise DataValidationError(
            [
                DataProblem(
                    "file_too_large",
                    f"file is {size_bytes / 1024 / 1024:.1f} MB; the train function accepts at "
                    f"most {limit_mb:g} MB (split the data or raise MAX_TRAINING_FILE_MB with "
                    "its memory)",
                )
            ]
        )
