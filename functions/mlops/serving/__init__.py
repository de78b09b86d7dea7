"""Serving: request validation, the loaded runtime, capture and the REST API."""

from mlops.serving.api import PredictionService
from mlops.serving.capture import CaptureSink, StdoutCaptureSink
from mlops.serving.runtime import ServingRuntime, load_runtime

__all__ = [
    "CaptureSink",
    "PredictionService",
    "ServingRuntime",
    "StdoutCaptureSink",
    "load_runtime",
]
