"""The local API under a burst of fresh connections: none is reset (socketserver's default
listen backlog of 5 reset 266 of 640 connections, 64 at once x 10 rounds)."""

from __future__ import annotations

import http.client
import threading

from mlops.local.api_server import LocalApi, serve_api


def test_a_burst_of_fresh_connections_is_answered_in_full() -> None:
    # A wrong key is answered by the gateway itself (403), so the burst measures the server's
    # accept path and not a model.
    api = LocalApi(environments=None, functions=dict, api_key="the-key")  # type: ignore[arg-type]
    server = serve_api(api, "127.0.0.1", 0)
    port = server.server_address[1]
    clients, rounds = 64, 10
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        for _ in range(rounds):
            barrier = threading.Barrier(clients)

            def one(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()  # every client connects at the same moment
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    connection.request("GET", "/models/iris", headers={"x-api-key": "wrong"})
                    status = connection.getresponse().status
                    with lock:
                        statuses.append(status)
                except OSError as error:
                    with lock:
                        errors.append(type(error).__name__)
                finally:
                    connection.close()

            threads = [threading.Thread(target=one) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        server.shutdown()
        server.server_close()
    assert errors == [], f"{len(errors)} of {clients * rounds} failed: {set(errors)}"
    assert statuses == [403] * (clients * rounds)
