"""In the local stack every function runs in one process; its log lines still name the
function that wrote them (a predict load error was once logged as `service: train`)."""

from __future__ import annotations

import json
import logging

import pytest

from mlops.local.logs import invocation


def test_a_predict_log_line_names_predict_after_train_configured_the_loggers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import predict.handler  # noqa: F401 - both handlers configure the shared `mlops` loggers
    import train.handler  # noqa: F401 - imported last: its configuration wins

    capsys.readouterr()
    with invocation("predict", "mlops-predict-iris"):
        logging.getLogger("mlops.serving.runtime").error("cannot load iris v1")
    logging.getLogger("mlops.training.run").error("outside any invocation")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    inside = next(line for line in lines if line["message"] == "cannot load iris v1")
    assert (inside["service"], inside["function_name"]) == ("predict", "mlops-predict-iris")
    outside = next(line for line in lines if line["message"] == "outside any invocation")
    assert outside["service"] == "train"
