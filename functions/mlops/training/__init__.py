"""Training: pipeline, metrics, ONNX export with parity, baseline, model card, gate."""
