"""`mlops spec init`'s drafting rules (mlops.spec.draft): each choice read from the data."""

from __future__ import annotations

import tomllib

import pytest

from mlops.spec import ModelSpec, SpecError
from mlops.spec.draft import MAX_CATEGORIES, draft_spec


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    lines = [",".join(header), *(",".join(str(cell) for cell in row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def _mixed(rows: int = 60) -> bytes:
    return _csv(
        ["temp", "size", "colour", "ident", "label"],
        [
            [
                -5 + i * 0.5,
                "" if i % 10 == 0 else i,
                ["red", "green"][i % 2],
                f"id-{i}",
                ["cat", "dog", "eel"][i % 3],
            ]
            for i in range(rows)
        ],
    )


def _spec(text: str) -> ModelSpec:
    return ModelSpec.model_validate(tomllib.loads(text))


def test_types_categories_and_bounds_come_from_the_data() -> None:
    spec = _spec(draft_spec("pets", _mixed(), "label"))
    features = {feature.name: feature for feature in spec.features}
    assert spec.task == "classification"
    assert features["colour"].type == "categorical"
    assert features["colour"].categories == ["green", "red"]
    temp = features["temp"]  # observed [-5, 24.5]: widened by 10% of 29.5 on each side
    assert (temp.type, temp.min, temp.max) == ("numeric", -7.95, 27.45)
    size = features["size"]  # never negative: the lower bound stays at 0
    assert (size.min, size.max) == (0.0, 64.8)  # observed [1, 59]
    assert "ident" not in features  # 60 distinct text values: an identifier, not a category


def test_every_choice_is_commented() -> None:
    text = draft_spec("pets", _mixed(), "label")
    assert "# 3 classes: chance is about 0.333" in text
    assert f"over {MAX_CATEGORIES}" in text and "left out" in text
    assert "6 of 60 cells missing: imputed" in text
    assert "never negative here" in text


@pytest.mark.parametrize(
    ("labels", "task", "metric"),
    [
        ([0, 1, 2] * 20, "classification", "f1_macro"),  # few integers: classes
        ([i * 1.5 for i in range(60)], "regression", "r2"),  # many values: a quantity
    ],
)
def test_the_task_is_read_from_the_target(labels: list[float], task: str, metric: str) -> None:
    data = _csv(["x", "y"], [[i, label] for i, label in enumerate(labels)])
    spec = _spec(draft_spec("m", data, "y"))
    assert (spec.task, spec.quality_gate.metric) == (task, metric)


def test_task_given_overrides_the_guess() -> None:
    data = _csv(["x", "y"], [[i, i % 3] for i in range(60)])
    assert _spec(draft_spec("m", data, "y", task="regression")).task == "regression"


@pytest.mark.parametrize(
    ("data", "target", "message"),
    [
        (_csv(["x", "y"], [[1, 2]] * 20), "nope", "no column 'nope'"),
        (b"", "y", "the file is empty"),
        (b"x,y\n", "y", "no data rows"),
        (_csv(["x", "y"], [[1, "a"]] * 20), "y", None),
        (_csv(["x", "y"], [[1, "a"]] * 20), "x", None),
    ],
)
def test_impossible_drafts_say_why(data: bytes, target: str, message: str | None) -> None:
    if message is None:  # valid inputs draft a valid spec (checked by draft_spec itself)
        assert _spec(draft_spec("m", data, target)).target == target
        return
    with pytest.raises(SpecError, match=message):
        draft_spec("m", data, target)


def test_a_text_target_cannot_be_a_regression() -> None:
    with pytest.raises(SpecError, match="must be a number"):
        draft_spec("m", _csv(["x", "y"], [[1, "a"]] * 20), "y", task="regression")
