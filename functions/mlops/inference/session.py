"""An ONNX model ready to serve: one onnxruntime session plus its metadata.

Built once per execution environment. Threads are set explicitly to one: a small Lambda has
one vCPU and onnxruntime's default thread affinity fails there (DESIGN §6).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from mlops.inference.exceptions import ModelLoadError
from mlops.inference.metadata import CATEGORICAL_INPUT, METADATA_KEY, NUMERIC_INPUT, ModelMetadata
from mlops.inference.prediction import Prediction


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


__all__ = ["OnnxModel", "Prediction", "session_options"]


class OnnxModel:
    """Loads an artifact once and predicts many times."""

    def __init__(self, artifact: bytes) -> None:
        try:
            self.session = ort.InferenceSession(
                artifact, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
            raw = self.session.get_modelmeta().custom_metadata_map[METADATA_KEY]
            self.metadata = ModelMetadata.from_json(raw)
        except (KeyError, ValueError) as error:
            raise ModelLoadError(
                f"artifact has no valid '{METADATA_KEY}' metadata: {error}"
            ) from error
        except Exception as error:  # onnxruntime raises its own exception types on bad bytes
            raise ModelLoadError(f"artifact is not a loadable ONNX model: {error}") from error
        self._input_names = {node.name for node in self.session.get_inputs()}
        # Decided once here, not per request.
        self._numeric = NUMERIC_INPUT in self._input_names
        self._categorical = CATEGORICAL_INPUT in self._input_names
        self._classifier = self.metadata.task == "classification"
        if self._classifier:
            self._outputs = [self.metadata.label_output, self.metadata.probabilities_output]
        else:
            self._outputs = [self.metadata.value_output]

    def predict(self, numeric: np.ndarray, categorical: np.ndarray) -> Prediction:
        """Run the model on float32 numerics (rows x numeric features, NaN = missing) and
        string categoricals (rows x categorical features)."""
        feeds: dict[str, np.ndarray] = {}
        if self._numeric:
            feeds[NUMERIC_INPUT] = np.ascontiguousarray(numeric, dtype=np.float32)
        if self._categorical:
            feeds[CATEGORICAL_INPUT] = np.asarray(categorical, dtype=object).astype(str)
        results = self.session.run(self._outputs, feeds)
        if self._classifier:
            # Probabilities stay float32, as the model computed them: the API serialises them
            # as such (shortest float32 text, no rounding pass), training widens them.
            return Prediction(outputs=np.asarray(results[0]), probabilities=results[1])
        return Prediction(
            outputs=np.asarray(results[0], dtype=np.float64).reshape(-1), probabilities=None
        )
