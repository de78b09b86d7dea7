"""What the cold-start children share: a Lambda context stand-in and the timings file.

Plain Python with nothing but the standard library, so importing it adds nothing a child
would not pay anyway (the children time their own imports).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


class LambdaContextStub:
    """The attributes the handler's Logger reads from a Lambda context."""

    function_name = "mlops-predict-bench"
    function_version = "1"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "cold"


def write_timings(
    path: str, started: float, imported: float, loaded: float, answered: float
) -> None:
    """The phases of one cold start, in seconds from the child's first statement."""
    with open(path, "w") as sink:
        json.dump(
            {
                "import_s": imported - started,
                "load_s": loaded - imported,
                "first_request_s": answered - loaded,
                "total_s": answered - started,
            },
            sink,
        )


def answer_first_request(handler: Callable[[Any, Any], Any], event_path: str) -> float:
    """Send the event through the handler; the clock when it answered (SystemExit unless 200)."""
    with open(event_path) as source:
        event = json.load(source)
    response = handler(event, LambdaContextStub())
    answered = time.perf_counter()
    if response["statusCode"] != 200:
        raise SystemExit(f"answered {response['statusCode']}: {response['body']}")
    return answered
