"""What the feedback route accepts: labels the model could have predicted, rows a request had.

Feedback is stored as capture and joined at drift-check time; a label that cannot be the
truth for this model ("banana" for iris, "abc" for a regression) would poison the quality
metric silently, so the API refuses it with 422 while the sender can still fix it. What the
API cannot know without a lookup per item (whether the request id exists, whether that
request had that many rows) is checked at join time, counted and reported in the drift
result (mlops.drift.run), never joined.

Pure: the classes come from the served artifact's metadata, the row limit from settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MAX_CLASSES_SHOWN = 20


def feedback_violations(
    items: Sequence[Any], *, task: str, classes: Sequence[str | int], max_rows: int
) -> list[dict[str, Any]]:
    """One violation per bad field: `{"location": [...], "message": ...}`; empty when all fit.

    `items` carry `.row` and `.actual` (the route's FeedbackItem). Classification: `actual`
    must be one of the artifact's classes, compared by its text (a CSV label of 1 is the
    class 1 whether sent as 1 or "1"); regression: a finite number. `row` must be below the
    API's batch limit (no request could have had that row).
    """
    violations: list[dict[str, Any]] = []
    names = {str(label) for label in classes}
    for index, item in enumerate(items):
        actual = item.actual
        where = ["body", "feedback", index]
        if task == "classification":
            if isinstance(actual, bool) or str(actual) not in names:
                shown = sorted(names)[:MAX_CLASSES_SHOWN]
                violations.append(
                    {
                        "location": [*where, "actual"],
                        "message": f"feedback[{index}].actual: {_short(actual)} is not a class "
                        f"of this model; expected one of {shown}",
                    }
                )
        elif (
            isinstance(actual, bool)
            or not isinstance(actual, int | float)
            or (isinstance(actual, float) and not math.isfinite(actual))
        ):
            violations.append(
                {
                    "location": [*where, "actual"],
                    "message": f"feedback[{index}].actual: {_short(actual)} is not a number; "
                    "a regression model's ground truth is a finite number",
                }
            )
        if item.row >= max_rows:
            violations.append(
                {
                    "location": [*where, "row"],
                    "message": f"feedback[{index}].row: {item.row} is beyond any request; "
                    f"a request has at most {max_rows} rows (0 to {max_rows - 1})",
                }
            )
    return violations


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
