"""The predict handler's import stays free of what its cold start work removed."""

from __future__ import annotations

import os
import subprocess
import sys


def test_predict_handler_imports_none_of_the_cold_start_weights() -> None:
    """What the cold start work removed stays removed (benchmarks/results/latest.md)."""
    heavy = ["pydantic", "onnxruntime", "boto3", "s3transfer", "aws_xray_sdk", "sklearn"]
    heavy += ["aws_lambda_powertools.event_handler", "pydantic_settings"]
    code = f"import sys, predict.handler; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_request_tracing_is_opt_in() -> None:
    """MLOPS_TRACE_REQUESTS=true wraps the handler in Powertools Tracer (and pays its import)."""
    code = (
        "import sys, predict.handler as h\n"
        "depth, f = 0, h.handler\n"
        "while hasattr(f, '__wrapped__'):\n"
        "    depth, f = depth + 1, f.__wrapped__\n"
        "print('aws_xray_sdk' in sys.modules, depth)"
    )
    # Decorators around the handler: Logger alone, or Tracer around Logger.
    for value, expected in (("true", "True 2"), ("", "False 1")):
        env = {**os.environ, "MLOPS_TRACE_REQUESTS": value, "POWERTOOLS_TRACE_DISABLED": "1"}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        assert result.stdout.strip() == expected, (value, result.stdout, result.stderr)
