"""What a SnapStart restore re-creates (mlops.serving.snapstart, predict.handler)."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mlops.serving.snapstart import after_restore_steps, register_restore_hooks, reseed_random


def draws(count: int = 8) -> list[float]:
    return [random.random() for _ in range(count)]


def test_environments_restored_from_one_snapshot_draw_alike_until_reseeded() -> None:
    snapshot = random.getstate()
    first = draws()
    random.setstate(snapshot)  # a second environment restored from the same memory
    assert draws() == first  # why the hook exists: capture sampling would be correlated
    random.setstate(snapshot)
    reseed_random()
    assert draws() != first


def test_without_the_runtime_module_nothing_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    assert register_restore_hooks(lambda: False) is False


def test_with_the_runtime_module_the_after_restore_steps_are_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Callable[[], Any]] = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)

    def forget() -> bool:
        return True

    assert register_restore_hooks(forget) is True
    assert registered == after_restore_steps(forget) == [reseed_random, forget]


@dataclass
class FakeRuntime:
    load_problem: str | None


@dataclass
class FakeService:
    runtime: FakeRuntime


@pytest.mark.parametrize(("problem", "forgotten"), [("load_failed", True), (None, False)])
def test_a_load_that_failed_at_snapshot_time_is_retried_after_restore(
    monkeypatch: pytest.MonkeyPatch, problem: str | None, forgotten: bool
) -> None:
    from predict import handler

    service = FakeService(FakeRuntime(problem))
    monkeypatch.setattr(handler, "_service", service)
    assert handler.forget_failed_load() is forgotten
    assert (handler._service is None) is forgotten
