"""The registry's conditional writes, each proven by the interleaving it exists for.

The races are played out in a fixed order rather than left to threads, so a missing condition
fails these tests on every run (a thread race caught a removed `attribute_not_exists` in 2 of
17 runs).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from mlops.clients import client
from mlops.registry import ModelVersion, Problem, RegistryStore, SourceObject, now_iso, run_id_for
from mlops.registry.exceptions import RunInProgressError, RunLostError
from mlops.registry.store import MAX_ALLOCATION_ATTEMPTS
from tests.integration.conftest import TrainingStack


def _store(stack: TrainingStack) -> RegistryStore:
    return RegistryStore(client("dynamodb"), stack.resources.names.registry_table)


def _source(stack: TrainingStack, name: str) -> SourceObject:
    return SourceObject(bucket=stack.data_bucket, key=f"training/iris/{name}.csv", etag=name)


def _version_record(run_id: str, version: int, status: str = "registered") -> ModelVersion:
    created = now_iso()
    return ModelVersion.model_validate(
        {
            "model": "iris",
            "version": version,
            "status": status,
            "run_id": run_id,
            "created_at": created,
            "updated_at": created,
        }
    )


def test_version_allocated_between_read_and_write_is_not_reused(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B reads the latest number (0), run A allocates v1, then B writes: B must get v2."""
    store = _store(training_stack)
    run_a = store.claim_run("iris", _source(training_stack, "a"), lease_seconds=600)
    run_b = store.claim_run("iris", _source(training_stack, "b"), lease_seconds=600)
    assert run_a is not None and run_b is not None
    store_b = _store(training_stack)
    read_latest = store.latest_version_number
    allocated_by_a: list[int] = []

    def read_then_a_allocates(model: str) -> int:
        seen = read_latest(model)
        allocated_by_a.append(store.allocate_version(run_a, {}))
        return seen

    monkeypatch.setattr(store_b, "latest_version_number", read_then_a_allocates)

    allocated_by_b = store_b.allocate_version(run_b, {})

    assert (allocated_by_a, allocated_by_b) == ([1], 2)
    assert [(v.version, v.run_id) for v in store.list_versions("iris")] == [
        (1, run_a.run_id),
        (2, run_b.run_id),
    ]
    assert store.get_run("iris", run_a.run_id).version == 1  # type: ignore[union-attr]
    assert store.get_run("iris", run_b.run_id).version == 2  # type: ignore[union-attr]


def test_a_run_never_allocates_a_second_version(training_stack: TrainingStack) -> None:
    """An invocation holding a copy of the run from before its allocation cannot take another
    number: the run already names v1."""
    store = _store(training_stack)
    run = store.claim_run("iris", _source(training_stack, "a"), lease_seconds=600)
    assert run is not None
    stale_copy = run.model_copy()
    assert store.allocate_version(run, {}) == 1

    with pytest.raises(RunLostError):
        store.allocate_version(stale_copy, {})

    assert [v.version for v in store.list_versions("iris")] == [1]


def test_lease_takeover_stops_the_old_invocation_writing_to_the_run(
    training_stack: TrainingStack,
) -> None:
    """The first invocation's lease ran out (presumed dead) and a redelivery took the run over;
    when the first one wakes up, none of its writes may land."""
    store = _store(training_stack)
    source = _source(training_stack, "a")
    old = store.claim_run("iris", source, lease_seconds=-60)
    assert old is not None
    new = store.claim_run("iris", source, lease_seconds=600)
    assert new is not None and new.claim_token != old.claim_token
    assert new.attempts == 1

    with pytest.raises(RunLostError):
        store.fail_run(old, [Problem(code="late", message="written by the old invocation")])
    with pytest.raises(RunLostError):
        store.allocate_version(old, {})
    store.release_run(old, "the old invocation's error")  # ignored, not raised

    current = store.get_run("iris", new.run_id)
    assert current is not None
    assert (current.status, current.claim_token, current.problems) == (
        "running",
        new.claim_token,
        [],
    )
    assert (current.lease_until, current.last_error, current.version) == (
        new.lease_until,
        None,
        None,
    )
    assert store.list_versions("iris") == []


def test_lease_takeover_stops_the_old_invocation_completing_its_version(
    training_stack: TrainingStack,
) -> None:
    """The old invocation allocated v1 and then stalled; the new one reuses v1. The old one's
    completion must be refused, and the new one's must land."""
    store = _store(training_stack)
    source = _source(training_stack, "a")
    old = store.claim_run("iris", source, lease_seconds=-60)
    assert old is not None
    assert store.allocate_version(old, {}) == 1
    new = store.claim_run("iris", source, lease_seconds=600)
    assert new is not None and new.version == 1

    with pytest.raises(RunLostError):
        store.complete_version(old, _version_record(old.run_id, 1, status="rejected"))
    assert store.get_version("iris", 1).status == "pending"
    assert store.get_run("iris", new.run_id).status == "running"  # type: ignore[union-attr]

    assert store.allocate_version(new, {}) == 1
    store.complete_version(new, _version_record(new.run_id, 1))
    assert store.get_version("iris", 1).status == "registered"
    assert store.get_run("iris", new.run_id).status == "registered"  # type: ignore[union-attr]


def test_a_version_record_belongs_to_the_run_that_allocated_it(
    training_stack: TrainingStack,
) -> None:
    """Completing a version that another run allocated (or one already completed) is refused."""
    store = _store(training_stack)
    run_a = store.claim_run("iris", _source(training_stack, "a"), lease_seconds=600)
    run_b = store.claim_run("iris", _source(training_stack, "b"), lease_seconds=600)
    assert run_a is not None and run_b is not None
    assert store.allocate_version(run_a, {}) == 1

    with pytest.raises(RunLostError):
        store.complete_version(run_b, _version_record(run_b.run_id, 1))
    store.complete_version(run_a, _version_record(run_a.run_id, 1))
    with pytest.raises(RunLostError):  # no second completion over a finished version
        store.complete_version(run_a, _version_record(run_a.run_id, 1, status="rejected"))
    assert store.get_version("iris", 1).status == "registered"
    assert store.get_version("iris", 1).run_id == run_a.run_id


def test_a_finished_run_is_not_claimed_again(training_stack: TrainingStack) -> None:
    store = _store(training_stack)
    source = _source(training_stack, "a")
    run = store.claim_run("iris", source, lease_seconds=-60)
    assert run is not None
    store.fail_run(run, [Problem(code="bad", message="bad data")])

    assert store.claim_run("iris", source, lease_seconds=600) is None
    assert store.get_run("iris", run.run_id).status == "failed"  # type: ignore[union-attr]


def test_run_id_is_the_hash_of_the_objects_documented_identity() -> None:
    """`<bucket>/<key>#<version id>` (or `<bucket>/<key>##<etag>` in an unversioned bucket),
    sha256, first 32 hex digits: ids already in registries stay valid only if this never
    changes. The version id alone names a version: the ETag a delivery reports may differ."""
    versioned = SourceObject(bucket="b", key="training/iris/a.csv", version_id="v1", etag="e")
    unversioned = SourceObject(bucket="b", key="training/iris/a.csv", etag="e")
    assert run_id_for(versioned) == hashlib.sha256(b"b/training/iris/a.csv#v1").hexdigest()[:32]
    assert run_id_for(unversioned) == hashlib.sha256(b"b/training/iris/a.csv##e").hexdigest()[:32]


def test_a_live_lease_is_not_taken_over(training_stack: TrainingStack) -> None:
    store = _store(training_stack)
    source = _source(training_stack, "a")
    before = int(time.time())
    run = store.claim_run("iris", source, lease_seconds=600)
    assert run is not None and before + 600 <= run.lease_until <= int(time.time()) + 600

    with pytest.raises(RunInProgressError) as busy:
        store.claim_run("iris", source, lease_seconds=600)

    assert str(busy.value) == (
        f"run {run.run_id} for s3://{source.bucket}/{source.key} is being processed by "
        "another invocation"
    )
    current = store.get_run("iris", run.run_id)
    assert current is not None and current.claim_token == run.claim_token


def test_a_takeover_carries_the_last_error_and_counts_the_attempt(
    training_stack: TrainingStack,
) -> None:
    store = _store(training_stack)
    source = _source(training_stack, "a")
    first = store.claim_run("iris", source, lease_seconds=600)
    assert first is not None
    store.release_run(first, "E" * 2000)  # an unexpected error gives the lease up at once

    second = store.claim_run("iris", source, lease_seconds=600)

    assert second is not None
    assert (second.attempts, second.last_error) == (1, "E" * 1000)  # kept, truncated to 1000
    recorded = store.get_run("iris", second.run_id)
    assert recorded is not None and recorded.last_error == "E" * 1000


def test_fail_run_returns_what_it_recorded(training_stack: TrainingStack) -> None:
    store = _store(training_stack)
    run = store.claim_run("iris", _source(training_stack, "a"), lease_seconds=600)
    assert run is not None
    problems = [Problem(code="bad", message="bad data")]

    failed = store.fail_run(run, problems)

    recorded = store.get_run("iris", run.run_id)
    assert recorded is not None
    assert (failed.status, failed.problems, failed.finished_at) == (
        "failed",
        problems,
        recorded.finished_at,
    )
    assert (recorded.status, recorded.problems) == ("failed", problems)
    assert failed.finished_at is not None


def test_allocation_reads_the_latest_number_instead_of_probing_taken_ones(
    training_stack: TrainingStack,
) -> None:
    """Three versions exist: the next run allocates v4 in one conditional write, and remembers
    it on the run (asking again returns it, without writing)."""
    writes: list[int] = []
    dynamodb = client("dynamodb")

    class CountingClient:
        def __getattr__(self, name: str) -> Any:
            return getattr(dynamodb, name)

        def transact_write_items(self, **arguments: Any) -> Any:
            writes.append(len(arguments["TransactItems"]))
            return dynamodb.transact_write_items(**arguments)

    store = _store(training_stack)
    for name in ("a", "b", "c"):
        earlier = store.claim_run("iris", _source(training_stack, name), lease_seconds=600)
        assert earlier is not None and store.allocate_version(earlier, {}) > 0
    counted = RegistryStore(CountingClient(), training_stack.resources.names.registry_table)
    run = counted.claim_run("iris", _source(training_stack, "d"), lease_seconds=600)
    assert run is not None

    assert counted.allocate_version(run, {}) == 4
    assert (writes, run.version) == ([2], 4)
    assert counted.allocate_version(run, {}) == 4
    assert writes == [2]


def test_allocation_gives_up_after_a_bounded_number_of_attempts(
    training_stack: TrainingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(training_stack)
    for number in range(1, MAX_ALLOCATION_ATTEMPTS + 1):  # every number it will try is taken
        other = store.claim_run("iris", _source(training_stack, f"o{number}"), lease_seconds=600)
        assert other is not None and store.allocate_version(other, {}) == number
    run = store.claim_run("iris", _source(training_stack, "late"), lease_seconds=600)
    assert run is not None
    monkeypatch.setattr(store, "latest_version_number", lambda model: 0)  # a stale read

    with pytest.raises(RuntimeError) as exhausted:
        store.allocate_version(run, {})

    assert str(exhausted.value) == (
        f"could not allocate a version for iris after {MAX_ALLOCATION_ATTEMPTS} attempts"
    )
    assert store.get_run("iris", run.run_id).version is None  # type: ignore[union-attr]


def test_run_lost_errors_name_the_run(training_stack: TrainingStack) -> None:
    store = _store(training_stack)
    source = _source(training_stack, "a")
    old = store.claim_run("iris", source, lease_seconds=-60)
    assert old is not None
    assert store.allocate_version(old, {}) == 1
    assert store.claim_run("iris", source, lease_seconds=600) is not None
    stale = old.model_copy(update={"version": None})

    with pytest.raises(RunLostError, match=rf"^run {old.run_id} was taken over$"):
        store.fail_run(old, [])
    with pytest.raises(RunLostError, match=rf"^run {old.run_id} was taken over$"):
        store.allocate_version(stale, {})
    with pytest.raises(RunLostError, match=rf"^run {old.run_id} lost its claim on v1$"):
        store.complete_version(old, _version_record(old.run_id, 1))


def test_items_say_what_they_are(training_stack: TrainingStack) -> None:
    """Each item carries `kind` (run / version), the registry table's own description of its
    rows for anyone reading the table directly."""
    store = _store(training_stack)
    run = store.claim_run("iris", _source(training_stack, "a"), lease_seconds=600)
    assert run is not None
    store.allocate_version(run, {})
    table = training_stack.resources.names.registry_table

    def kind(sk: str) -> str:
        item = client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "MODEL#iris"}, "sk": {"S": sk}}
        )["Item"]
        return str(item["kind"]["S"])

    assert (kind(f"RUN#{run.run_id}"), kind("VERSION#00000001")) == ("run", "version")
    store.complete_version(run, _version_record(run.run_id, 1))
    assert kind("VERSION#00000001") == "version"
