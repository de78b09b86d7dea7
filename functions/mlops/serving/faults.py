"""Test-only fault injection on one function version: how the rollout's rollback is proven.

`MLOPS_FAULT_INJECTION` in a version's environment (PredictSettings.fault_injection) wraps the
loaded model: `error` raises on every prediction (the API answers 500), `slow:<ms>` sleeps that
long inside the timed model call (counted as slow against `max_p99_latency_ms`), `invalid`
returns outputs no model may give (NaN values, an unknown label). Imported only when the setting
is present, so a normal environment pays nothing; no deployed configuration sets it (the local
stack sets it per model version from MLOPS_LOCAL_FAULTS, mlops.local.faults).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mlops.inference.prediction import Prediction

INVALID_LABEL = "__invalid__"


class FaultInjectionError(RuntimeError):
    """The injected failure (`error` mode)."""


def parse_fault(setting: str) -> tuple[str, float]:
    """("error" | "slow" | "invalid", milliseconds for slow); ValueError on anything else."""
    mode, _, argument = setting.strip().partition(":")
    if mode == "slow":
        return mode, float(argument or 250)
    if mode in ("error", "invalid") and not argument:
        return mode, 0.0
    raise ValueError(
        f"MLOPS_FAULT_INJECTION: expected error, slow:<ms> or invalid, got {setting!r}"
    )


class FaultyModel:
    """Wraps a loaded model (an OnnxModel) and misbehaves as configured."""

    def __init__(self, model: Any, setting: str) -> None:
        self._model = model
        self.metadata = model.metadata
        self.mode, self.delay_ms = parse_fault(setting)

    def predict(self, numeric: np.ndarray, categorical: np.ndarray) -> Prediction:
        if self.mode == "error":
            raise FaultInjectionError("injected fault: error")
        if self.mode == "slow":
            time.sleep(self.delay_ms / 1000)
        prediction: Prediction = self._model.predict(numeric, categorical)
        if self.mode != "invalid":
            return prediction
        if prediction.probabilities is not None:
            labels = np.full(len(prediction.outputs), INVALID_LABEL, dtype=object)
            return Prediction(outputs=labels, probabilities=prediction.probabilities)
        return Prediction(outputs=np.full(len(prediction.outputs), np.nan), probabilities=None)
