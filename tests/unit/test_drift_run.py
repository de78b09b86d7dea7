"""The pure parts of the drift check's orchestration: the state-change rule, the feedback join,
the compacted-object keys, and the API's feedback checks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mlops.drift.columns import Columns
from mlops.drift.run import check_id_for, transition
from mlops.drift.window import Window, compacted_key, join_feedback
from mlops.serving.feedback import feedback_violations


def _report(verdict: str, quality: str | None = None) -> Any:
    return SimpleNamespace(
        verdict=verdict, quality=SimpleNamespace(verdict=quality) if quality else None
    )


@pytest.mark.parametrize(
    ("previous", "verdict", "alert", "state"),
    [
        ("unknown", "no_drift", None, "ok"),
        ("unknown", "drift", "drift", "drift"),
        ("ok", "drift", "drift", "drift"),
        ("drift", "drift", None, "drift"),  # the same drift next hour: no second alert
        ("drift", "no_drift", "recovered", "ok"),
        ("ok", "no_drift", None, "ok"),
        ("drift", "insufficient_data", None, None),  # insufficient never changes the state
        ("ok", "insufficient_data", None, None),
    ],
)
def test_alerts_only_on_a_state_change(
    previous: str, verdict: str, alert: str | None, state: str | None
) -> None:
    new, sent = transition({"state": previous}, _report(verdict))
    assert sent == alert
    assert new.get("state") == state


def test_insufficient_then_ok_is_silent() -> None:
    state: dict[str, Any] = {"state": "unknown"}
    new, first = transition(state, _report("insufficient_data"))
    state.update(new)
    _, second = transition(state, _report("no_drift"))
    assert (first, second) == (None, None)


def test_quality_drop_alerts_once() -> None:
    new, alert = transition({"state": "ok", "quality": "ok"}, _report("no_drift", "degraded"))
    assert alert == "quality" and new["quality"] == "degraded"
    _, again = transition({"state": "ok", "quality": "degraded"}, _report("no_drift", "degraded"))
    assert again is None


def test_check_id_is_the_schedule_time_to_the_second() -> None:
    from datetime import UTC, datetime

    assert check_id_for(datetime(2026, 12, 1, 1, 0, 0, 999, tzinfo=UTC)) == "20261201T010000Z"


def test_compacted_key_mirrors_the_capture_key_per_version() -> None:
    firehose = "capture/model=iris/dt=2026-12-01/hour=01/mlops-capture-1-2026-12-01-01-02-03-ab"
    assert compacted_key(firehose, 3, "inputs") == (
        "compacted/model=iris/version=3/dt=2026-12-01/hour=01/"
        "mlops-capture-1-2026-12-01-01-02-03-ab.inputs.parquet"
    )
    local = "capture/model=iris/dt=2026-12-01/hour=01/20261201T010203-ab12cd34.jsonl"
    assert compacted_key(local, 1, "feedback").endswith(
        "/20261201T010203-ab12cd34.feedback.parquet"
    )


def test_feedback_join_counts_unknown_ids_and_rows_beyond_the_request() -> None:
    window = Window(
        inputs=Columns(),
        predictions=np.array([], object),
        requests=2,
        objects=1,
        served={"a": ["setosa", "virginica"], "b": ["versicolor"]},
        feedback=[
            ("a", 0, "setosa"),
            ("a", 1, "setosa"),
            ("a", 1, "virginica"),  # a correction: the last label wins
            ("b", 1, "setosa"),  # request b had one row
            ("zzz", 0, "setosa"),  # never served (or before the window)
        ],
    )
    joined = join_feedback(window, "classification")
    assert sorted(zip(joined.labels.tolist(), joined.predictions.tolist(), strict=True)) == [
        ("setosa", "setosa"),
        ("virginica", "virginica"),
    ]
    assert (joined.unknown_request_ids, joined.rows_out_of_range, joined.duplicates) == (1, 1, 1)


def _item(actual: Any, row: int = 0) -> Any:
    return SimpleNamespace(actual=actual, row=row)


@pytest.mark.parametrize(
    ("task", "classes", "actual", "ok"),
    [
        ("classification", ["setosa", "virginica"], "setosa", True),
        ("classification", ["setosa", "virginica"], "banana", False),
        ("classification", [0, 1], 1, True),
        ("classification", [0, 1], "1", True),  # the class 1, sent as text
        ("classification", [0, 1], True, False),
        ("classification", [0, 1], 2, False),
        ("regression", [], 151.5, True),
        ("regression", [], 3, True),
        ("regression", [], "abc", False),
        ("regression", [], False, False),
    ],
)
def test_feedback_label_must_fit_the_task(
    task: str, classes: list[Any], actual: Any, ok: bool
) -> None:
    problems = feedback_violations([_item(actual)], task=task, classes=classes, max_rows=1000)
    assert (problems == []) is ok


def test_feedback_row_must_be_within_the_batch_limit() -> None:
    (problem,) = feedback_violations(
        [_item("setosa", row=1000)], task="classification", classes=["setosa"], max_rows=1000
    )
    assert problem["location"] == ["body", "feedback", 0, "row"]
    assert (
        feedback_violations(
            [_item("setosa", row=999)], task="classification", classes=["setosa"], max_rows=1000
        )
        == []
    )


def test_report_plots_drifted_features_first_and_at_most_the_limit() -> None:
    from mlops.drift.html_report import plotted_rows

    rows: list[Any] = [
        SimpleNamespace(feature=f"f{i}", verdict="drift" if i in (7, 150) else "no_drift")
        for i in range(200)
    ] + [SimpleNamespace(feature="prediction", verdict="no_drift")]
    shown = [row.feature for row in plotted_rows(rows, limit=100)]
    assert len(shown) == 100
    assert shown[:3] == ["f7", "f150", "prediction"]
    assert shown[3:6] == ["f0", "f1", "f2"]


def test_retraining_is_opt_in_and_reads_only_under_labelled() -> None:
    from pydantic import ValidationError

    from mlops.spec.model import DriftPolicy

    assert DriftPolicy().retrain_on_drift is False
    with pytest.raises(ValidationError, match="needs retrain_from"):
        DriftPolicy(retrain_on_drift=True)
    with pytest.raises(ValidationError, match="pattern"):
        DriftPolicy(retrain_on_drift=True, retrain_from="training/iris/")
    assert DriftPolicy(retrain_on_drift=True, retrain_from="labelled/iris/").retrain_from
