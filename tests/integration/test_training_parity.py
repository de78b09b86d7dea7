"""The parity gate through the train handler: a run whose ONNX graph does not answer like its
fitted pipeline fails with `parity_failed`, creates no version and alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from mlops.clients import client
from mlops.examples import diabetes_csv, iris_csv
from mlops.registry import RegistryStore
from mlops.spec import ModelSpec
from mlops.training import trainer
from tests.integration.conftest import TrainingStack
from tests.integration.test_training_flow import run_handler


def _convert_another_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the run convert a pipeline fitted on the same rows with shuffled targets: a valid
    ONNX graph of the right schema that disagrees with the pipeline being checked."""
    fitted_on: list[tuple[Any, Any]] = []
    build_pipeline, convert_to_onnx = trainer.build_pipeline, trainer.convert_to_onnx

    def recording_build(spec: ModelSpec) -> Pipeline:
        pipeline = build_pipeline(spec)
        fit = pipeline.fit

        def recording_fit(x: Any, y: Any) -> Pipeline:
            fitted_on.append((x, y))
            return fit(x, y)

        pipeline.fit = recording_fit
        return pipeline

    def convert_other(pipeline: Pipeline, spec: ModelSpec, classes: list[Any]) -> bytes:
        x, y = fitted_on[-1]
        other = clone(pipeline).fit(x, np.random.default_rng(0).permutation(y))
        return convert_to_onnx(other, spec, classes)

    monkeypatch.setattr(trainer, "build_pipeline", recording_build)
    monkeypatch.setattr(trainer, "convert_to_onnx", convert_other)


@pytest.mark.parametrize(
    ("model", "body"), [("iris", iris_csv), ("diabetes", diabetes_csv)], ids=["iris", "diabetes"]
)
def test_onnx_that_disagrees_with_its_pipeline_fails_the_run(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch, model: str, body: Any
) -> None:
    _convert_another_fit(monkeypatch)
    store = RegistryStore(client("dynamodb"), training_stack.resources.names.registry_table)
    training_stack.upload(f"training/{model}/a.csv", body())

    assert run_handler(training_stack.receive_event()) == {"batchItemFailures": []}

    [run] = store.list_runs(model)
    assert (run.status, run.version) == ("failed", None)
    assert [problem.code for problem in run.problems] == ["parity_failed"]
    assert "differ from scikit-learn" in run.problems[0].message
    assert store.list_versions(model) == []
    assert store.latest_version_number(model) == 0
    [alert] = training_stack.alerts()
    assert alert["Subject"] == f"[mlops] training failed for {model}"
    assert "[parity_failed]" in alert["Message"]
