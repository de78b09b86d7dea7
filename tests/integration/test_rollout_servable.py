"""No traffic moves to a version whose artifact cannot serve: the reconciler checks the sha256
and loads the model before every move that no shadow replay has vetted (the first model, a
manual promote, a manual rollback). A damaged artifact once promoted with exit 0 and turned
every request into 503."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.clients import client
from mlops.registry.store import _model_pk, _to_item, _version_sk
from mlops.rollout.reconciler import RolloutError, manual_promote, manual_rollback
from tests.integration.conftest import TrainingStack
from tests.integration.rollout_harness import RolloutHarness, use_test_canary_policy


@pytest.fixture
def rollout(
    training_stack: TrainingStack, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> RolloutHarness:
    use_test_canary_policy(specs_dir)
    monkeypatch.delenv("MLOPS_LOCAL_FAULTS", raising=False)
    return RolloutHarness(training_stack, monkeypatch)


def damage(rollout: RolloutHarness, version: int) -> None:
    """The registry's sha256 for the version's model no longer matches its bytes."""
    record = rollout.registry.get_version("iris", version)
    artifacts = dict(record.artifacts)
    artifacts["model.onnx"] = artifacts["model.onnx"].model_copy(update={"sha256": "0" * 64})
    damaged = record.model_copy(update={"artifacts": artifacts})
    client("dynamodb").put_item(
        TableName=rollout.names.registry_table,
        Item=_to_item(
            {
                "pk": _model_pk("iris"),
                "sk": _version_sk(version),
                "kind": "version",
                **damaged.model_dump(mode="json"),
            }
        ),
    )


def test_a_first_model_that_cannot_serve_is_rejected_and_takes_no_traffic(
    rollout: RolloutHarness,
) -> None:
    assert rollout.train() == 1
    damage(rollout, 1)
    rollout.reconcile()
    assert rollout.status(1) == "rejected"
    assert rollout.pointers().production is None
    published = client("lambda").list_versions_by_function(FunctionName=rollout.function)
    pins = {v["Environment"]["Variables"].get("MODEL_VERSION") for v in published["Versions"][1:]}
    assert "1" not in pins  # no function version ever pinned the damaged model
    assert "cannot be served" in rollout.transitions()[-1].reason


def test_manual_promote_and_rollback_refuse_a_version_that_cannot_serve(
    rollout: RolloutHarness,
) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    assert rollout.train() == 2
    rollout.reconcile()
    manual_promote("iris", rollout.deps)  # v2's canary -> production, v1 archived
    serving = rollout.alias()
    damage(rollout, 1)

    with pytest.raises(RolloutError, match="v1 cannot be served"):
        manual_promote("iris", rollout.deps, 1)
    with pytest.raises(RolloutError, match="v1 cannot be served"):
        manual_rollback("iris", rollout.deps)

    assert rollout.pointers().production == 2
    assert (rollout.status(1), rollout.status(2)) == ("archived", "production")
    assert rollout.alias() == serving
