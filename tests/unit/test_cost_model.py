"""The cost table's arithmetic (benchmarks/cost.py): billed milliseconds round up, the API
front is priced per request, log bytes are metered with CloudWatch's per-event overhead."""

from __future__ import annotations

import pytest

from benchmarks.cost import ASSUMPTIONS, PRICES, billed_ms, cost_per_million, measure_stdout


def test_lambda_bills_whole_milliseconds_after_the_runtime_overhead() -> None:
    assert billed_ms(0.0) == 1
    assert billed_ms(24.0) == 2  # 0.04 ms on a Lambda share of a CPU + 1 ms runtime
    # 1.74 ms of handler here is 3.0 ms on 0.58 of a vCPU, plus 1: exactly 4, not 5.
    assert billed_ms(1000 * 3.0 / ASSUMPTIONS["lambda_cpu_slowdown"]) == 4


def test_the_fronts_differ_by_their_published_price_only() -> None:
    """Both fronts write an access log line per request (infra/api.py, infra/http_api.py)."""
    rest = cost_per_million("rest", 24.0, 400.0, 2.0, 150.0, 1024)
    http = cost_per_million("http", 24.0, 400.0, 2.0, 150.0, 1024)
    assert rest.total - http.total == pytest.approx(2.50)
    assert rest.logs == http.logs
    # 2 ms at 1 GB for a million requests is 2,000 GB-s.
    assert rest.lambda_duration == pytest.approx(2000 * PRICES["lambda_arm64_gb_second"])
    assert rest.api == 3.50 and rest.api > 10 * (rest.lambda_requests + rest.lambda_duration)


def test_log_bytes_are_metered_per_event() -> None:
    quiet = cost_per_million("http", 24.0, 0.0, 0.0, 0.0, 1024)
    chatty = cost_per_million("http", 24.0, 1000.0, 10.0, 0.0, 1024)
    per_gb = PRICES["logs_ingestion_per_gb"]
    overhead = ASSUMPTIONS["log_event_overhead_bytes"]
    assert chatty.logs - quiet.logs == pytest.approx((1000 + 10 * overhead) / 1e3 * per_gb)


def test_an_unknown_front_is_refused() -> None:
    with pytest.raises(ValueError, match="front must be"):
        cost_per_million("grpc", 24.0, 0.0, 0.0, 0.0, 1024)


def test_stdout_is_counted_per_request_and_capture_lines_apart() -> None:
    import sys

    def handler() -> None:
        sys.stdout.write('{"_aws": {}, "requests": 1}\n')
        sys.stdout.write('{"capture": true, "id": "é"}\n')

    measured = measure_stdout(handler, 4)
    capture = len('{"capture": true, "id": "é"}\n'.encode())
    assert measured["capture_bytes_per_request"] == capture
    assert measured["bytes_per_request"] == capture + len('{"_aws": {}, "requests": 1}\n')
    assert measured["lines_per_request"] == 2
