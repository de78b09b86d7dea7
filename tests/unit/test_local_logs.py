"""In the local stack every function runs in one process; its log lines still name the
function that wrote them (a predict load error was once logged as `service: train`)."""

from __future__ import annotations

import io
import json
import logging

from mlops.local.logs import invocation


def test_a_predict_log_line_names_predict_after_train_configured_the_loggers() -> None:
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    import predict.handler  # noqa: F401 - both handlers configure the shared `mlops` loggers
    import train.handler

    # As when the train handler is imported last: its configuration (service "train") wins.
    copy_config_to_registered_loggers(source_logger=train.handler.logger, include={"mlops"})
    shared = logging.getLogger("mlops")
    # The handlers' stream was bound when they were made; read the same formatter's output.
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(shared.handlers[0].formatter)
    shared.addHandler(capture)
    try:
        with invocation("predict", "mlops-predict-iris"):
            logging.getLogger("mlops.serving.runtime").error("cannot load iris v1")
        logging.getLogger("mlops.training.run").error("outside any invocation")
    finally:
        shared.removeHandler(capture)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    inside = next(line for line in lines if line["message"] == "cannot load iris v1")
    assert (inside["service"], inside["function_name"]) == ("predict", "mlops-predict-iris")
    outside = next(line for line in lines if line["message"] == "outside any invocation")
    assert outside["service"] == "train"
