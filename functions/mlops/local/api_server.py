"""The local API: HTTP on loopback -> API Gateway proxy events -> the same predict handler.

Honours what API Gateway does in front of the function: the API key (x-api-key), the 10 MB
payload limit, explicit per-model routes (any other model is the error contract's 404) and
alias `live`'s weighted routing (through LocalEnvironments).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mlops.local.context import LocalContext
from mlops.local.environments import LocalEnvironments
from mlops.serving.route_table import SHARED_ROUTES, route_model

GATEWAY_MAX_BODY = 10 * 1024 * 1024


def gateway_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    return status, {"Content-Type": "application/json"}, body


def content_length(header: str | None) -> int | None:
    """The body's size from its header: 0 when absent, None when it is not a byte count."""
    if header is None or not header.strip():
        return 0
    text = header.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def proxy_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: str | None,
    request_id: str,
    api_key: str,
    resource: str,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, shaped like events/apigw_predict.json."""
    split = urlsplit(raw_path)
    query = dict(parse_qsl(split.query)) or None
    return {
        "resource": resource,
        "path": split.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{split.path}",
            "stage": "local",
            "requestId": request_id,
            "accountId": "123456789012",
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "identity": {
                "sourceIp": "127.0.0.1",
                "apiKey": api_key,
                "userAgent": headers.get("User-Agent", ""),
            },
            "apiId": "local",
            "domainName": "127.0.0.1",
        },
        "body": body,
        "isBase64Encoded": False,
    }


class LocalApi:
    """Routes requests for the declared models to their functions' `live` alias."""

    def __init__(
        self,
        environments: LocalEnvironments,
        functions: Callable[[], dict[str, str]],
        api_key: str,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self.environments = environments
        self.functions = functions  # model -> function name, re-read as specs are added
        self.api_key = api_key
        self.on_request = on_request or (lambda line: None)

    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        request_id = str(uuid.uuid4())
        supplied = next((v for k, v in headers.items() if k.lower() == "x-api-key"), None)
        if supplied != self.api_key:
            return gateway_error(403, "forbidden", "missing or invalid API key (x-api-key)")
        path = urlsplit(raw_path).path
        functions = self.functions()
        # The routes API Gateway has resources for (mlops.serving.route_table), per model.
        shared = next((route for route in SHARED_ROUTES if route.pattern.match(path)), None)
        if shared is not None and functions:
            function_name, resource = next(iter(functions.values())), shared.template
        else:
            found = route_model(path)
            if found is None or found[0] not in functions:
                return gateway_error(404, "not_found", "no such route or model")
            model, route = found
            function_name = functions[model]
            resource = route.path(model)
        event = proxy_event(method, raw_path, headers, body, request_id, supplied, resource)
        started = time.perf_counter()
        version, response = self.environments.invoke(
            function_name, event, LocalContext(function_name, request_id, qualifier="live")
        )
        elapsed = (time.perf_counter() - started) * 1000
        self.on_request(
            f"{method} {path} -> {response['statusCode']} "
            f"({function_name}:{version}, {elapsed:.1f} ms)"
        )
        out_headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            **(response.get("headers") or {}),
        }
        for key, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[key] = ", ".join(str(value) for value in values)
        return int(response["statusCode"]), out_headers, str(response.get("body") or "").encode()


class _Handler(BaseHTTPRequestHandler):
    api: LocalApi
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in one buffer and Nagle is off: ~0.5 ms instead of ~44 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = content_length(self.headers.get("Content-Length"))
        if length is None:
            # As API Gateway: a Content-Length that is not a byte count is the client's error,
            # and the connection cannot be read further (the body's end is unknown).
            status, headers, body = gateway_error(
                400, "malformed_request", "Content-Length must be a non-negative integer"
            )
            self.close_connection = True
        elif length > GATEWAY_MAX_BODY:
            status, headers, body = gateway_error(
                413, "payload_too_large", "request body exceeds 10 MB"
            )
            self.close_connection = True
        else:
            raw = self.rfile.read(length) if length else b""
            text = raw.decode("utf-8", errors="replace") if raw else None
            status, headers, body = self.api.dispatch(
                self.command, self.path, dict(self.headers.items()), text
            )
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        headers["Content-Length"] = str(len(body))
        head += [f"{key}: {value}" for key, value in headers.items()]
        payload = b"" if self.command == "HEAD" else body  # HEAD: headers only
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the router (the stdlib would answer an unknown one with a 501
        # HTML page): a known path with the wrong method is a 405 with `Allow`, as documented.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class _ApiHttpServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a burst of fresh connections overflowed it and the
    # kernel reset them (64 at once x 10 rounds: 266 of 640 reset). The kernel caps this at
    # net.core.somaxconn (4096 on current Linux).
    request_queue_size = 1024


def serve_api(api: LocalApi, host: str, port: int) -> ThreadingHTTPServer:
    """Start the HTTP server in a daemon thread and return it (call .shutdown() to stop)."""
    handler = type("LocalApiHandler", (_Handler,), {"api": api})
    server = _ApiHttpServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
    return server
