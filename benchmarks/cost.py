"""Cost per million predictions, computed from what this run measured.

Two inputs come from the run itself: the handler's warm p50 (benchmarks.warm) and the bytes the
handler writes to stdout per request (the EMF metrics line and the capture line, counted here by
calling the real handler with its real capture sample rate). Lambda ships those bytes to
CloudWatch Logs, which bills them; the capture line also crosses Firehose. Everything else is a
published price (us-east-1, the first pricing tier) or a stated assumption, kept in `PRICES`
and `ASSUMPTIONS` beside their sources so a reader can redo the arithmetic.

The point of the table: for a sub-millisecond function the API front dominates. REST API at
$3.50/M is most of the bill; the function itself, billed by the millisecond, is a few cents.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

#: Published prices, us-east-1, first tier (checked against the AWS pricing pages, 2026-12).
PRICES = {
    "lambda_request_per_million": 0.20,  # aws.amazon.com/lambda/pricing
    "lambda_arm64_gb_second": 0.0000133334,  # arm64 duration, first 7.5 billion GB-s a month
    "rest_api_per_million": 3.50,  # aws.amazon.com/api-gateway/pricing, first 333 million
    "http_api_per_million": 1.00,  # first 300 million, per 512 KB request
    "logs_ingestion_per_gb": 0.50,  # CloudWatch Logs ingestion (Lambda's tier starts here)
    "firehose_per_gb": 0.029,  # Data Firehose ingestion, first 500 TB
    "xray_per_million_traces": 5.00,  # traces recorded
}

#: What this machine cannot measure, stated so it can be argued with.
ASSUMPTIONS = {
    # CloudWatch Logs meters each event as its size plus 26 bytes.
    "log_event_overhead_bytes": 26,
    # Lambda's own lines per invocation (text format): START, END, REPORT (with the X-Ray
    # trace id of active tracing), about 60 + 50 + 230 bytes.
    "platform_log_bytes": 340,
    "platform_log_events": 3,
    # API Gateway's access log line (JSON, the standard fields), on either front.
    "access_log_bytes": 300,
    # A 1,024 MB arm64 function has about 0.58 of a vCPU; this machine's core is a full one.
    "lambda_cpu_slowdown": 1.0 / 0.58,
    # The runtime's own work per invoke (event in, response out), not in our handler's time.
    "runtime_overhead_ms": 1.0,
    # X-Ray's default sampling: 1 request a second, then 5%; at a steady high rate, ~5%.
    "xray_sampled_share": 0.05,
}


@dataclass(frozen=True)
class CostLine:
    """One front's dollars per million predictions, item by item."""

    front: str
    billed_ms: int
    lambda_requests: float
    lambda_duration: float
    api: float
    logs: float
    firehose: float
    xray: float

    @property
    def total(self) -> float:
        return (
            self.lambda_requests
            + self.lambda_duration
            + self.api
            + self.logs
            + self.firehose
            + self.xray
        )


def billed_ms(handler_us: float) -> int:
    """Lambda bills duration rounded up to the millisecond: the handler's time here, scaled to
    the function's share of a CPU, plus the runtime's own overhead."""
    milliseconds = (
        handler_us / 1000.0 * ASSUMPTIONS["lambda_cpu_slowdown"]
        + ASSUMPTIONS["runtime_overhead_ms"]
    )
    return max(1, math.ceil(milliseconds - 1e-9))


def cost_per_million(
    front: str,
    handler_us: float,
    stdout_bytes: float,
    stdout_events: float,
    capture_bytes: float,
    memory_mb: int,
) -> CostLine:
    """Dollars per million predictions on `front` ("rest" or "http")."""
    if front not in ("rest", "http"):
        raise ValueError(f"front must be 'rest' or 'http', not {front!r}")
    milliseconds = billed_ms(handler_us)
    gb_seconds = milliseconds / 1000.0 * memory_mb / 1024.0
    overhead = ASSUMPTIONS["log_event_overhead_bytes"]
    log_bytes = (
        stdout_bytes
        + stdout_events * overhead
        + ASSUMPTIONS["platform_log_bytes"]
        + ASSUMPTIONS["platform_log_events"] * overhead
        + ASSUMPTIONS["access_log_bytes"]
        + overhead
    )
    per_gb = 1e6 / 1e9  # a million requests of N bytes is N / 1e3 GB
    return CostLine(
        front=front,
        billed_ms=milliseconds,
        lambda_requests=PRICES["lambda_request_per_million"],
        lambda_duration=1e6 * gb_seconds * PRICES["lambda_arm64_gb_second"],
        api=PRICES[f"{front}_api_per_million"],
        logs=log_bytes * per_gb * PRICES["logs_ingestion_per_gb"],
        firehose=capture_bytes * per_gb * PRICES["firehose_per_gb"],
        xray=ASSUMPTIONS["xray_sampled_share"] * PRICES["xray_per_million_traces"],
    )


class _CountingWriter(io.TextIOBase):
    """Counts what the handler writes to stdout: bytes, lines, and the capture lines' bytes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0
        self.capture_bytes = 0

    def write(self, text: str) -> int:
        size = len(text.encode())
        self.bytes += size
        self.lines += text.count("\n")
        if '"capture":true' in text.replace(" ", ""):
            self.capture_bytes += size
        return len(text)


def measure_stdout(call: Callable[[], Any], requests: int) -> dict[str, float]:
    """Mean bytes, lines and capture bytes the handler writes per request."""
    writer = _CountingWriter()
    with contextlib.redirect_stdout(writer):
        for _ in range(requests):
            call()
    return {
        "requests": requests,
        "bytes_per_request": writer.bytes / requests,
        "lines_per_request": writer.lines / requests,
        "capture_bytes_per_request": writer.capture_bytes / requests,
    }


def run_cost(stack: Any, warm: dict[str, Any], memory_mb: int, say: Any = print) -> dict[str, Any]:
    """Count the handler's stdout per request for each model and batch size, then price it."""
    from benchmarks import warm as warm_module

    cells, _ = warm_module.build_cells(stack)
    rows_out = []
    for cell in cells:
        measured = measure_stdout(cell.calls["handler_onnx"], 2000 if cell.rows == 1 else 200)
        handler_us = next(
            c["variants"]["handler_onnx"]["p50_us"]
            for c in warm["cells"]
            if c["model"] == cell.model and c["rows"] == cell.rows
        )
        lines = [
            cost_per_million(
                front,
                handler_us,
                measured["bytes_per_request"],
                measured["lines_per_request"],
                measured["capture_bytes_per_request"],
                memory_mb,
            )
            for front in ("rest", "http")
        ]
        rows_out.append(
            {
                "model": cell.model,
                "rows": cell.rows,
                "handler_p50_us": handler_us,
                "stdout": measured,
                "costs": [asdict(line) | {"total": line.total} for line in lines],
            }
        )
        say(
            f"  {cell.model} x{cell.rows}: {measured['bytes_per_request']:.0f} B/request to "
            f"stdout; REST ${lines[0].total:.2f}/M, HTTP ${lines[1].total:.2f}/M"
        )
    return {
        "memory_mb": memory_mb,
        "prices": PRICES,
        "assumptions": ASSUMPTIONS,
        "cells": rows_out,
    }


def render_markdown(cost: dict[str, Any], labels: dict[str, str]) -> str:
    lines = [
        "",
        f"## Cost per million predictions (us-east-1, arm64, {cost['memory_mb']} MB)",
        "",
        "Computed from this run's handler p50 and the bytes the real handler wrote to stdout "
        "per request (EMF + capture lines, capture sample rate as configured); prices and "
        "assumptions: benchmarks/cost.py.",
        "",
        "| Model | Rows | stdout per request | billed ms | Lambda (requests + duration) | "
        "API front | Logs + Firehose | X-Ray | **per million requests** | per million rows |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cost["cells"]:
        for line in cell["costs"]:
            front = "REST API" if line["front"] == "rest" else "HTTP API"
            lines.append(
                f"| {labels.get(cell['model'], cell['model'])} | {cell['rows']} | "
                f"{cell['stdout']['bytes_per_request']:.0f} B | {line['billed_ms']} | "
                f"${line['lambda_requests'] + line['lambda_duration']:.3f} | "
                f"{front} ${line['api']:.2f} | ${line['logs'] + line['firehose']:.3f} | "
                f"${line['xray']:.2f} | **${line['total']:.2f}** | "
                f"${line['total'] / cell['rows']:.3f} |"
            )
    return "\n".join(lines) + "\n"
