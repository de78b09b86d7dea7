"""The rollout reconciler against moto, through the rollout function's handler.

Each guarantee in mlops/rollout/reconciler.py's docstring has a test here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.clients import client
from mlops.local.capture_store import capture_key
from mlops.registry import RegistryStore
from mlops.rollout.reconciler import manual_promote, manual_rollback, reconcile
from tests.integration.conftest import TrainingStack, lambda_context
from tests.integration.rollout_harness import ROWS, RolloutHarness, use_test_canary_policy

pytestmark = pytest.mark.usefixtures("specs_dir")


@pytest.fixture
def rollout(
    training_stack: TrainingStack, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> RolloutHarness:
    use_test_canary_policy(specs_dir)
    monkeypatch.delenv("MLOPS_LOCAL_FAULTS", raising=False)
    return RolloutHarness(training_stack, monkeypatch)


def _to_canary(rollout: RolloutHarness) -> tuple[str, str]:
    """v1 in production with captured traffic, v2 registered and released as a canary."""
    assert rollout.train() == 1
    rollout.reconcile()
    production = rollout.alias()[0]
    assert rollout.send(production, 60) == [200] * 60
    assert rollout.train() == 2
    rollout.reconcile()
    primary, weights = rollout.alias()
    assert primary == production and len(weights) == 1
    return production, next(iter(weights))


def _alert_subjects(rollout: RolloutHarness) -> list[str]:
    return [str(alert["Subject"]) for alert in rollout.training.alerts()]


def test_first_model_goes_straight_to_production(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    live, weights = rollout.alias()
    assert rollout.pin_of(live) == "1" and weights == {}
    assert rollout.status(1) == "production"
    assert [t.what for t in rollout.transitions()] == ["promoted"]
    assert any("v1: promoted" in subject for subject in _alert_subjects(rollout))
    # Publishing wrote MODEL_VERSION=1 into $LATEST: not new code, so nothing more to do.
    assert reconcile("iris", rollout.deps).steps == []


def test_canary_weights_follow_the_spec(rollout: RolloutHarness) -> None:
    production, canary = _to_canary(rollout)
    assert rollout.alias() == (production, {canary: 0.2})
    assert rollout.pin_of(canary) == "2" and rollout.status(2) == "canary"
    shadow = next(t for t in rollout.transitions() if t.what == "canary").evidence["shadow"]
    assert shadow["verdict"] == "within_limits" and shadow["inputs"] >= 50


def test_too_few_captured_inputs_start_the_canary(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    assert rollout.train() == 2
    rollout.reconcile()
    canary = next(t for t in rollout.transitions() if t.what == "canary")
    assert canary.evidence["shadow"]["verdict"] == "too_few_inputs"
    assert rollout.pointers().canary == 2


def test_shadow_replay_blocks_a_divergent_candidate(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    production = rollout.alias()[0]
    # Production's recorded answers differ from what any iris model says for these inputs.
    records = [
        {
            "capture": True,
            "kind": "prediction",
            "model": "iris",
            "model_version": 1,
            "request_id": f"r{index}",
            "timestamp": "2026-12-01T00:00:00.000+00:00",
            "inputs": [ROWS[0]],
            "outputs": ["virginica"],
        }
        for index in range(80)
    ]
    from datetime import UTC, datetime

    client("s3").put_object(
        Bucket=rollout.names.capture_bucket,
        Key=capture_key("iris", datetime.now(UTC)),
        Body="".join(json.dumps(r) + "\n" for r in records).encode(),
    )
    assert rollout.train() == 2
    rollout.reconcile()
    assert rollout.status(2) == "rejected"
    assert rollout.alias() == (production, {})
    rejected = next(t for t in rollout.transitions() if t.what == "rejected")
    assert rejected.evidence["shadow"]["flips"]["flips"] == 80
    assert any("v2: rejected" in subject for subject in _alert_subjects(rollout))


def test_promotion_after_the_bake_with_healthy_traffic(rollout: RolloutHarness) -> None:
    _, canary = _to_canary(rollout)
    assert rollout.send(canary, 220) == [200] * 220
    rollout.clock.advance(6)
    rollout.reconcile()  # look 1: still baking
    assert rollout.pointers().canary == 2
    rollout.clock.advance(5)
    rollout.reconcile()  # look 2: the bake is over and the evidence holds
    assert rollout.alias() == (canary, {})
    assert (rollout.status(2), rollout.status(1)) == ("production", "archived")
    promoted = [t for t in rollout.transitions() if t.what == "promoted"][-1]
    assert promoted.evidence["decision"]["rule"] == "policy_holds"
    assert promoted.evidence["decision"]["requests"] == 220


@pytest.mark.parametrize(
    ("fault", "metric"),
    [("error", "error_rate"), ("slow:80", "slow_share"), ("invalid", "error_rate")],
)
def test_rollback_when_the_canary_breaks_the_policy(
    rollout: RolloutHarness, monkeypatch: pytest.MonkeyPatch, fault: str, metric: str
) -> None:
    production, canary = _to_canary(rollout)
    monkeypatch.setenv("MLOPS_LOCAL_FAULTS", f"iris:2={fault}")
    statuses = rollout.send(canary, 12)
    assert statuses == ([500] * 12 if fault == "error" else [200] * 12)
    rollout.clock.advance(5.5)
    rollout.reconcile()
    assert rollout.alias() == (production, {})
    assert (rollout.status(2), rollout.status(1)) == ("rolled_back", "production")
    decision = next(t for t in rollout.transitions() if t.what == "rolled_back").evidence[
        "decision"
    ]
    broken = [m["metric"] for m in decision["metrics"] if m["broken"]]
    assert decision["rule"] == "policy_broken" and broken == [metric]
    assert any("v2: rolled back" in subject for subject in _alert_subjects(rollout))


def test_rollback_at_once_when_the_canary_fails_to_load(rollout: RolloutHarness) -> None:
    production, canary = _to_canary(rollout)
    artifact = (
        RegistryStore(client("dynamodb"), rollout.names.registry_table)
        .get_version("iris", 2)
        .model_artifact
    )
    client("s3").delete_object(
        Bucket=rollout.names.model_bucket, Key=artifact.key, VersionId=artifact.version_id
    )
    assert rollout.send(canary, 3) == [503] * 3
    rollout.reconcile()  # no evaluation period has passed: a failed load needs none
    assert rollout.alias() == (production, {})
    decision = next(t for t in rollout.transitions() if t.what == "rolled_back").evidence[
        "decision"
    ]
    assert decision["rule"] == "load_failure"


def test_insufficient_traffic_extends_the_bake_then_follows_the_spec(
    rollout: RolloutHarness,
) -> None:
    _, canary = _to_canary(rollout)
    rollout.send(canary, 20)
    rollout.clock.advance(10.5)
    rollout.reconcile()
    assert rollout.pointers().canary == 2
    assert [t.what for t in rollout.transitions()][-1] == "insufficient_traffic"
    rollout.clock.advance(10)
    rollout.reconcile()  # look 4 = the extension limit: on_extension_limit = rollback
    assert rollout.status(2) == "rolled_back"
    decision = rollout.transitions()[-1].evidence["decision"]
    assert decision["rule"] == "extension_limit"


def test_manual_promote_and_rollback_go_through_the_reconciler(rollout: RolloutHarness) -> None:
    production, canary = _to_canary(rollout)
    manual_promote("iris", rollout.deps)
    assert rollout.alias() == (canary, {})
    assert (rollout.status(2), rollout.status(1)) == ("production", "archived")
    manual_rollback("iris", rollout.deps)
    assert rollout.alias()[0] == production
    assert (rollout.status(1), rollout.status(2)) == ("production", "rolled_back")
    assert [t.reason.split(":")[0] for t in rollout.transitions()][-2:] == [
        "manual promote",
        "manual rollback",
    ]


def test_promoting_the_first_model_while_the_reconciler_does_is_done_not_an_error(
    rollout: RolloutHarness,
) -> None:
    """`mlops promote iris 1` right after training races the reconciler, which moves a first
    model to production by itself: when it wins between manual_promote's reads of the pointers
    and of the version, the user's wish holds and the command succeeds."""
    assert rollout.train() == 1
    read_version = rollout.deps.registry.get_version

    def reconciler_wins_first(model: str, version: int) -> Any:
        rollout.deps.registry.get_version = read_version  # type: ignore[method-assign]
        reconcile(model, rollout.deps)  # the schedule's run, between the two reads
        return read_version(model, version)

    rollout.deps.registry.get_version = reconciler_wins_first  # type: ignore[method-assign]
    report = manual_promote("iris", rollout.deps, 1)
    assert report.pointers is not None and report.pointers.production == 1
    assert rollout.status(1) == "production"
    assert [t.what for t in rollout.transitions()] == ["promoted"]


def test_newer_candidate_supersedes_a_pending_one(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    assert (rollout.train(), rollout.train()) == (2, 3)
    rollout.reconcile()
    assert (rollout.status(2), rollout.status(3)) == ("superseded", "canary")
    assert len(rollout.alias()[1]) == 1


def test_no_double_canary_when_two_runs_interleave(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    rollout.reconcile()
    assert rollout.train() == 2
    original = rollout.deps.capture.newest
    interleaved: list[bool] = []

    def newest(*args: Any, **kwargs: Any) -> Any:
        # Run A is in its shadow replay, having read the state; run B does the whole release.
        if not interleaved:
            interleaved.append(True)
            reconcile("iris", rollout.deps)
        return original(*args, **kwargs)

    rollout.deps.capture.newest = newest  # type: ignore[method-assign]
    assert rollout.reconcile() == {"batchItemFailures": []}  # A loses its write, re-reads
    assert [t.what for t in rollout.transitions()].count("canary") == 1
    assert len(rollout.alias()[1]) == 1 and rollout.pointers().canary == 2


def test_a_manual_rollback_during_a_look_is_not_lost(rollout: RolloutHarness) -> None:
    production, canary = _to_canary(rollout)
    rollout.send(canary, 30)
    rollout.clock.advance(6)
    original = rollout.deps.counter.counts
    interleaved: list[bool] = []

    def counts(*args: Any, **kwargs: Any) -> Any:
        # The schedule's run has read the state and is counting; a manual rollback lands.
        if not interleaved:
            interleaved.append(True)
            manual_rollback("iris", rollout.deps)
        return original(*args, **kwargs)

    rollout.deps.counter.counts = counts  # type: ignore[method-assign]
    assert rollout.reconcile() == {"batchItemFailures": []}  # its write loses, it re-reads
    assert [t.what for t in rollout.transitions()][-1] == "rolled_back"
    assert "continue" not in [t.what for t in rollout.transitions()]
    assert rollout.alias() == (production, {}) and rollout.status(2) == "rolled_back"


def test_a_redeploy_mid_canary_moves_nothing(rollout: RolloutHarness) -> None:
    from serving_setup.handler import handler as setup_handler

    production, canary = _to_canary(rollout)
    event = {
        "RequestType": "Update",
        "ResourceProperties": {"FunctionName": rollout.function, "ModelName": "iris"},
        "PhysicalResourceId": f"{rollout.function}:live",
    }
    setup_handler(event, lambda_context("mlops-serving-setup"))
    # A deploy also resets $LATEST's pin to 0 (the CDK environment): not new code.
    lambda_client = client("lambda")
    variables = lambda_client.get_function_configuration(FunctionName=rollout.function)[
        "Environment"
    ]["Variables"]
    lambda_client.update_function_configuration(
        FunctionName=rollout.function,
        Environment={"Variables": {**variables, "MODEL_VERSION": "0"}},
    )
    rollout.reconcile()
    assert rollout.alias() == (production, {canary: 0.2})
    assert (rollout.pointers().canary, rollout.pointers().canary_kind) == (2, "model")


def test_latest_code_change_mid_canary(rollout: RolloutHarness) -> None:
    production, canary = _to_canary(rollout)
    lambda_client = client("lambda")
    old_code = lambda_client.get_function_configuration(
        FunctionName=rollout.function, Qualifier=canary
    )["CodeSha256"]
    lambda_client.update_function_code(FunctionName=rollout.function, ZipFile=_new_code())
    rollout.reconcile()
    assert rollout.alias() == (production, {canary: 0.2})  # the model canary is untouched
    rollout.send(canary, 220)
    rollout.clock.advance(11)
    rollout.reconcile()  # v2 promoted on its old code; then the new code is its own canary
    state = rollout.pointers()
    assert (state.production, state.canary, state.canary_kind) == (2, 2, "code")
    primary, weights = rollout.alias()
    code_canary = next(iter(weights))
    assert primary == canary and rollout.pin_of(code_canary) == "2"
    new_code = lambda_client.get_function_configuration(
        FunctionName=rollout.function, Qualifier=code_canary
    )["CodeSha256"]
    assert new_code != old_code
    manual_rollback("iris", rollout.deps)  # a rolled-back code change is not retried
    assert rollout.alias() == (canary, {})
    assert reconcile("iris", rollout.deps).steps == []


def _set_latest_variables(rollout: RolloutHarness, variables: dict[str, str]) -> None:
    """A configuration change of `$LATEST`: `variables` added to its environment."""
    lambda_client = client("lambda")
    current = lambda_client.get_function_configuration(FunctionName=rollout.function)
    lambda_client.update_function_configuration(
        FunctionName=rollout.function,
        Environment={"Variables": {**current["Environment"]["Variables"], **variables}},
    )


def _to_code_canary(
    rollout: RolloutHarness, variables: dict[str, str] | None = None
) -> tuple[str, str]:
    """v1 in production; `$LATEST` gets new code (and `variables` in its environment): the
    reconciler releases it as a code canary with v1 pinned. (production, canary) versions."""
    assert rollout.train() == 1
    rollout.reconcile()
    production = rollout.alias()[0]
    client("lambda").update_function_code(FunctionName=rollout.function, ZipFile=_new_code())
    if variables:
        _set_latest_variables(rollout, variables)
    rollout.reconcile()
    state = rollout.pointers()
    assert (state.production, state.canary, state.canary_kind) == (1, 1, "code")
    primary, weights = rollout.alias()
    assert primary == production and len(weights) == 1
    canary = next(iter(weights))
    assert canary == state.canary_function_version and rollout.pin_of(canary) == "1"
    return production, canary


@pytest.mark.parametrize(("fault", "status"), [("error", 500), ("invalid", 200)])
def test_a_faulty_code_canary_is_judged_on_its_own_traffic(
    rollout: RolloutHarness, fault: str, status: int
) -> None:
    """The new code fails every request it serves, but they are a small share of the model
    version's traffic: production (same model version, healthy) serves 125x as many. Counted
    by model version, 12 errors in 1,512 requests are within max_error_rate; counted by the
    canary's function version, 12 in 12 break it."""
    production, canary = _to_code_canary(rollout, {"MLOPS_FAULT_INJECTION": fault})
    assert rollout.send(canary, 12) == [status] * 12
    assert rollout.send(production, 1500) == [200] * 1500
    rollout.clock.advance(5.5)
    rollout.reconcile()
    assert rollout.alias() == (production, {})
    state = rollout.pointers()
    assert state.canary is None and state.production_function_version == production
    rolled_back = next(t for t in rollout.transitions() if t.what == "code_rolled_back")
    decision = rolled_back.evidence["decision"]
    assert decision["rule"] == "policy_broken" and decision["requests"] == 12
    assert [m["metric"] for m in decision["metrics"] if m["broken"]] == ["error_rate"]
    assert reconcile("iris", rollout.deps).steps == []  # the same change is not retried


def test_a_healthy_code_canary_is_promoted_on_its_own_traffic(rollout: RolloutHarness) -> None:
    production, canary = _to_code_canary(rollout)
    assert rollout.send(canary, 220) == [200] * 220
    assert rollout.send(production, 400) == [200] * 400
    rollout.clock.advance(6)
    rollout.reconcile()  # look 1: still baking
    assert rollout.pointers().canary_kind == "code"
    rollout.clock.advance(5)
    rollout.reconcile()
    assert rollout.alias() == (canary, {})
    state = rollout.pointers()
    assert (state.production, state.production_function_version, state.canary) == (1, canary, None)
    promoted = next(t for t in rollout.transitions() if t.what == "code_promoted")
    assert promoted.evidence["decision"]["rule"] == "policy_holds"
    assert promoted.evidence["decision"]["requests"] == 220  # the canary's own requests only


def test_a_code_canary_is_not_blamed_for_production_s_invalid_outputs(
    rollout: RolloutHarness,
) -> None:
    """Production's code gives invalid outputs, the new code does not: invalid outputs are
    counted from capture records by the function version that answered, so the production
    version's do not count against the canary (both pin v1)."""
    _set_latest_variables(rollout, {"MLOPS_FAULT_INJECTION": "invalid"})
    production, canary = _to_code_canary(rollout, {"MLOPS_FAULT_INJECTION": ""})
    assert rollout.send(canary, 220) == [200] * 220
    assert rollout.send(production, 30) == [200] * 30  # invalid labels, captured
    rollout.clock.advance(6)
    rollout.reconcile()
    rollout.clock.advance(5)
    rollout.reconcile()
    assert rollout.alias() == (canary, {})
    promoted = next(t for t in rollout.transitions() if t.what == "code_promoted")
    assert promoted.evidence["decision"]["requests"] == 220


def _new_code() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("predict/handler.py", "# a new release\n")
    return buffer.getvalue()


class CrashError(Exception):
    """The process died right after an AWS call."""


MUTATIONS = {
    "update_function_configuration",
    "publish_version",
    "create_alias",
    "update_alias",
    "publish",
    "transact_write_items",
    "update_item",
    "put_item",
}


class CrashAfter:
    """A client proxy that raises Crash right after the budget's n-th mutating call."""

    def __init__(self, inner: Any, budget: list[int]) -> None:
        self._inner, self._budget = inner, budget

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in MUTATIONS:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self._budget[0] -= 1
            if self._budget[0] == 0:
                raise CrashError(name)
            return result

        return call


def _run_crashing_after_every_call(rollout: RolloutHarness) -> int:
    """Reconcile again and again, run n dying right after its n-th AWS write, until a run
    finishes (each run resumes from what the crashed ones left). Returns the crashes."""
    import dataclasses

    from mlops.notifications import Alerts

    crashes = 0
    base = rollout.deps
    for attempt in range(1, 40):
        budget = [attempt]
        registry = RegistryStore(CrashAfter(client("dynamodb"), budget), base.registry_table)
        crashing = dataclasses.replace(
            base,
            lambda_client=CrashAfter(base.lambda_client, budget),
            registry=registry,
            alerts=Alerts(
                CrashAfter(client("sns"), budget), rollout.training.resources.alerts_topic_arn
            ),
        )
        try:
            reconcile("iris", crashing)
            return crashes
        except CrashError:
            crashes += 1
        except Exception as error:
            raise AssertionError(f"after {crashes} crashes: {error!r}") from error
    raise AssertionError("the reconciler never finished")


def test_a_crash_after_any_call_converges_on_the_next_run(rollout: RolloutHarness) -> None:
    assert rollout.train() == 1
    first = _run_crashing_after_every_call(rollout)
    production = rollout.alias()[0]
    assert rollout.pin_of(production) == "1"
    rollout.send(production, 60)
    assert rollout.train() == 2
    second = _run_crashing_after_every_call(rollout)
    primary, weights = rollout.alias()
    assert primary == production and len(weights) == 1
    canary = next(iter(weights))
    rollout.send(canary, 220)
    rollout.clock.advance(11)
    third = _run_crashing_after_every_call(rollout)
    assert rollout.alias() == (canary, {})
    assert [t.what for t in rollout.transitions()] == [
        "promoted",
        "canary",
        "canary_started",
        "promoted",
    ]
    assert all(t.announced for t in rollout.transitions())
    versions = client("lambda").list_versions_by_function(FunctionName=rollout.function)
    assert len(versions["Versions"]) == 3  # $LATEST, v1's and v2's: no duplicate publish
    assert min(first, second, third) >= 2  # every phase was interrupted and resumed
