"""moto's in-process server, with the two things `mlops local` needs that it lacks.

- A bind failure ends `start()` with an error. moto's `ThreadedMotoServer` binds in its thread
  and waits for a "ready" event that a failed bind never sets: a taken port printed "Port ... is
  in use" and hung for ever (the preflight check closes most of that window; this closes it).
- It notes writes to what the snapshot keeps (S3, DynamoDB, Lambda), so the state is saved
  only when something changed: pickling every bucket every few seconds would cost more as the
  capture grows over a week. Conservative: any request that might write counts as a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

# DynamoDB operations that never change a table; every other DynamoDB call counts as a write.
_DYNAMODB_READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
    }
)


def may_write_kept_state(environ: dict[str, Any]) -> bool:
    """True if a request may change S3, DynamoDB or Lambda (what the snapshot keeps)."""
    method = environ.get("REQUEST_METHOD", "GET")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # JSON protocols: DynamoDB, SQS (not kept), ...
        service, _, operation = target.partition(".")
        return service.startswith("DynamoDB") and operation not in _DYNAMODB_READS
    return method in ("PUT", "POST", "DELETE", "PATCH")  # S3, Lambda (REST); SNS is harmless


class WatchedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that reports bind failures and calls `on_write` before each write."""

    def __init__(self, ip_address: str, port: int, on_write: Callable[[], None]) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._on_write = on_write
        self.error: OSError | None = None

    def _server_entry(self) -> None:
        moto_app = DomainDispatcherApplication(create_backend_app)
        on_write = self._on_write

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if may_write_kept_state(environ):
                on_write()
            return moto_app(environ, start_response)

        try:
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
        except OSError as error:
            self.error = error
            self._server_ready_event.set()
            return
        except SystemExit:  # werkzeug prints "Port ... is in use" and exits (the thread only)
            self.error = OSError(f"port {self._port} is in use")
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        if self.error is not None:
            raise self.error
