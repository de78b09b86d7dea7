"""`mlops spec init`: a valid spec written from a CSV, each choice commented.

Hand-writing a spec for the 64-pixel digits data took 416 lines. The file already says most of
it: which columns are numbers, which are labels and their values, the observed ranges. What
the data cannot say (the bar a model must clear) is suggested and marked as a suggestion.

Rules (docs/spec.md):
- a column whose every non-missing cell parses as a number is numeric; any other column is
  categorical with its observed values as `categories` (at most MAX_CATEGORIES: more is not a
  category but an identifier or free text, and is left out with a comment);
- bounds: the observed range widened by BOUNDS_MARGIN of its width on each side (a value just
  outside what training saw is still plausible; a value far outside is refused), never below 0
  for a column that was never negative (counts, sizes, prices);
- task, unless given: a non-numeric target, or a numeric one with at most MAX_CLASSES distinct
  integer values, is classification; anything else regression;
- estimator: a random forest (no scaling needed, robust on unprepared data, a fixed seed);
- gate: classification `f1_macro` above chance (CHANCE_FACTOR x 1/classes, at most 0.8);
  regression `r2` above 0 (better than predicting the mean). Raise it to what you need.
The result is parsed and validated before it is written: an invalid draft is never saved.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mlops.spec.exceptions import SpecError
from mlops.spec.model import ModelSpec

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})  # as the train reader
MAX_CATEGORIES = 50
MAX_CLASSES = 20
BOUNDS_MARGIN = 0.10
CHANCE_FACTOR = 1.5


@dataclass
class _Column:
    name: str
    values: list[str] = field(default_factory=list)
    missing: int = 0

    def numbers(self) -> list[float] | None:
        parsed = []
        for value in self.values:
            try:
                number = float(value)
            except ValueError:
                return None
            if not math.isfinite(number):
                return None
            parsed.append(number)
        return parsed


def _read_columns(data: bytes, delimiter: str) -> tuple[list[_Column], int]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpecError(f"the file is not UTF-8 ({error})") from error
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise SpecError("the file is empty: expected a header row and data rows")
        columns = [_Column(cell.strip()) for cell in header]
        rows = 0
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise SpecError(
                    f"line {reader.line_num} has {len(row)} cells, the header {len(columns)}"
                )
            rows += 1
            for column, cell in zip(columns, row, strict=True):
                if cell.strip().lower() in MISSING_TOKENS:
                    column.missing += 1
                else:
                    column.values.append(cell.strip())
    except csv.Error as error:
        raise SpecError(f"line {reader.line_num}: not valid CSV: {error}") from error
    if rows == 0:
        raise SpecError("the file has a header but no data rows")
    return columns, rows


def _number_text(value: float) -> str:
    return repr(float(value))


def _bounds(numbers: list[float]) -> tuple[float, float]:
    low, high = min(numbers), max(numbers)
    margin = BOUNDS_MARGIN * (high - low) if high > low else max(abs(low) * BOUNDS_MARGIN, 1.0)
    lower = low - margin
    if low >= 0:
        lower = max(lower, 0.0)
    # Six decimals, rounded outwards: a bound never cuts off a value the file holds.
    return math.floor(lower * 1e6) / 1e6, math.ceil((high + margin) * 1e6) / 1e6


def draft_spec(
    name: str,
    data: bytes,
    target: str,
    task: str | None = None,
    delimiter: str = ",",
    source: str = "the file",
) -> str:
    """The TOML text of a valid spec for `data`; SpecError with a reason if none can be made."""
    columns, rows = _read_columns(data, delimiter)
    by_name = {column.name: column for column in columns}
    if target not in by_name:
        raise SpecError(
            f"no column '{target}' in {source}; its columns: {', '.join(by_name) or 'none'}"
        )
    if len(by_name) != len(columns):
        raise SpecError(f"{source} has duplicate column names")
    label = by_name[target]
    label_numbers = label.numbers()
    distinct_labels = sorted(set(label.values))
    if task is None:
        integral = label_numbers is not None and all(n.is_integer() for n in label_numbers)
        if label_numbers is None:
            task, task_reason = "classification", "the target is not numeric"
        elif integral and len(distinct_labels) <= MAX_CLASSES:
            task = "classification"
            task_reason = f"the target has {len(distinct_labels)} distinct integer values"
        else:
            task, task_reason = "regression", "the target is a number with many values"
    elif task in ("classification", "regression"):
        task_reason = "given with --task"
    else:
        raise SpecError(f"--task must be classification or regression, not '{task}'")
    if task == "regression" and label_numbers is None:
        raise SpecError(f"'{target}' is not numeric: a regression target must be a number")

    lines = [
        f"# Drafted by `mlops spec init` from {source} ({rows} rows). Every choice below is",
        "# commented; review the bounds and the quality gate before training for real.",
        f"name = {json.dumps(name)}",
        f"task = {json.dumps(task)}  # {task_reason}",
        f"target = {json.dumps(target)}",
        "",
    ]
    left_out = []
    worst_missing = 0.0
    feature_count = 0
    for column in columns:
        if column.name == target:
            continue
        worst_missing = max(worst_missing, column.missing / rows)
        numbers = column.numbers()
        lines += ["[[features]]", f"name = {json.dumps(column.name)}"]
        if not column.values:
            lines.pop()
            lines.pop()
            left_out.append(f"# left out: {json.dumps(column.name)} has no values")
            continue
        if numbers is not None:
            low, high = _bounds(numbers)
            widened = (
                f"{BOUNDS_MARGIN:.0%} of the range"
                if max(numbers) > min(numbers)
                else f"{BOUNDS_MARGIN:.0%} of the value or 1 (constant in this file)"
            )
            lines += [
                'type = "numeric"  # every value parses as a number',
                f"min = {_number_text(low)}  # observed {_number_text(min(numbers))}, minus "
                + widened
                + (" (kept >= 0: never negative here)" if min(numbers) >= 0 else ""),
                f"max = {_number_text(high)}  # observed {_number_text(max(numbers))}, plus "
                + widened,
            ]
        else:
            categories = sorted(set(column.values))
            if len(categories) > MAX_CATEGORIES:
                lines.pop()
                lines.pop()
                left_out.append(
                    f"# left out: {json.dumps(column.name)} has {len(categories)} distinct "
                    f"text values (over {MAX_CATEGORIES}): an identifier or free text, not a "
                    "category"
                )
                continue
            lines += [
                f'type = "categorical"  # text values; {len(categories)} seen',
                f"categories = {json.dumps(categories)}",
            ]
        if column.missing:
            lines.append(f"# {column.missing} of {rows} cells missing: imputed")
        lines.append("")
        feature_count += 1
    if feature_count == 0:
        raise SpecError(f"{source} has no usable feature columns besides '{target}'")
    lines += left_out + ([""] if left_out else [])

    if task == "classification":
        classes = max(len(distinct_labels), 2)
        threshold = round(min(0.8, CHANCE_FACTOR / classes), 3)
        lines += [
            "[estimator]  # a forest: no scaling needed, robust on unprepared data, seeded",
            'name = "random_forest_classifier"',
            "params = { n_estimators = 100, random_state = 0 }",
            "",
            "[quality_gate]",
            f'metric = "f1_macro"  # {classes} classes: chance is about {1 / classes:.3f}',
            f"threshold = {threshold}  # suggested: {CHANCE_FACTOR} x chance; raise it to the "
            "bar a model must clear",
        ]
    else:
        lines += [
            "[estimator]  # a forest: no scaling needed, robust on unprepared data, seeded",
            'name = "random_forest_regressor"',
            "params = { n_estimators = 100, random_state = 0 }",
            "",
            "[quality_gate]",
            'metric = "r2"  # 0 is predicting the mean',
            "threshold = 0.1  # suggested: better than the mean; raise it to what you need",
        ]
    min_rows = max(10, min(50, rows // 2))
    max_missing = round(min(1.0, max(0.05, worst_missing + 0.05)), 3)
    lines += [
        "",
        "[data]",
        f"min_rows = {min_rows}  # this file has {rows}",
        f"max_missing_fraction = {max_missing}  # the worst column here: {worst_missing:.3f}",
    ]
    if delimiter != ",":
        lines.append(f"delimiter = {json.dumps(delimiter)}")
    text = "\n".join(lines) + "\n"
    _validate(text, name)
    return text


def _validate(text: str, name: str) -> None:
    from pydantic import ValidationError

    try:
        spec = ModelSpec.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise SpecError(f"cannot draft a valid spec for '{name}': {error}") from error
    from mlops.training.pipeline import build_estimator

    build_estimator(spec)


def write_draft(path: Path, text: str, force: bool = False) -> None:
    """Write the draft; never over an existing spec unless `force`."""
    if path.exists() and not force:
        raise SpecError(f"{path} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
