"""Log lines that name the function that wrote them, although every function runs in one process.

On Lambda each function is its own process: the train handler's Powertools configuration
(service "train") and the predict handler's ("predict") never meet. In-process they do: both
copy their configuration onto the shared `mlops` loggers, the last import wins, and a predict
load error came out as `service: train`. The local stack marks each invocation (a context
variable: per thread, so the API's threads and the training loop never mix) and a record
factory stamps `service` and `function_name` on every record made inside it; Powertools'
formatter lets a record's own attributes win over its configured keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[dict[str, str] | None] = ContextVar("mlops_local_invocation", default=None)
_installed = False


def install() -> None:
    """Wrap the record factory once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        stamp = _current.get()
        if stamp:
            record.__dict__.update(stamp)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


@contextmanager
def invocation(service: str, function_name: str) -> Iterator[None]:
    """Records logged inside carry this function's service and name."""
    install()
    token = _current.set({"service": service, "function_name": function_name})
    try:
        yield
    finally:
        _current.reset(token)
