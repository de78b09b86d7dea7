"""The predict handler's import stays free of what its cold start work removed."""

from __future__ import annotations

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
