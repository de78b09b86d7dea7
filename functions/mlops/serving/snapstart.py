"""What a SnapStart restore must re-create in a predict environment (`-c snapStart=true`).

With SnapStart, Lambda runs the init phase once per published version, snapshots the memory
and restores that one snapshot into every new execution environment. The snapshot holds what
our init made: the verified, loaded ONNX session (the point of it), the settings, the spec,
the botocore clients used to load, and the state of Python's `random` module. After a restore:

- `random` is re-seeded from the OS: capture sampling (`should_sample`) draws from it, and
  every environment restored from one snapshot would otherwise draw the same sequence, so
  the sampled share would be correlated across environments instead of independent.
- A load that failed at snapshot time (S3 or DynamoDB unavailable for a moment) is forgotten,
  with the clients that made it, so the first request loads again: without SnapStart a new
  environment retries by itself; with it, the failure would be frozen into every restore.
- Nothing else is unique or time-bound: request ids come from API Gateway, each capture
  record and EMF line takes its timestamp when written, no connection is used after init,
  and credentials are not cached by our code (botocore's provider refreshes them).

`snapshot_restore_py` ships in Lambda's Python runtimes only: it is imported when hooks are
registered and its absence (tests, the local stack) leaves nothing registered.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

logger = logging.getLogger(__name__)


def reseed_random() -> None:
    """Fresh entropy for this environment (random.seed() with no argument reads os.urandom)."""
    random.seed()


def after_restore_steps(forget_failed_load: Callable[[], bool]) -> list[Callable[[], object]]:
    """The after-restore hooks, in order; `forget_failed_load` drops a failed load and says
    whether it did."""
    return [reseed_random, forget_failed_load]


def register_restore_hooks(forget_failed_load: Callable[[], bool]) -> bool:
    """Register the after-restore hooks with the Lambda runtime; False where there is none."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return False
    for step in after_restore_steps(forget_failed_load):
        register_after_restore(step)
    return True
