"""Sizes: model artifacts (ONNX vs joblib pickle) and what the inference runtime weighs.

Size matters on Lambda twice: the artifact is fetched from S3 at every cold start, and the
function plus its layers must stay under 250 MB unzipped (and cold starts grow with it).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.stack import BenchStack

REPO_ROOT = Path(__file__).resolve().parents[1]
#: What each serving approach must ship, measured in this venv (x86_64, CPython 3.11).
RUNTIME_SETS = {
    "onnxruntime + numpy (our inference layer)": ("onnxruntime", "numpy"),
    "scikit-learn + scipy + numpy + joblib + threadpoolctl": (
        "scikit-learn",
        "scipy",
        "numpy",
        "joblib",
        "threadpoolctl",
    ),
}


def artifact_sizes(stack: BenchStack) -> dict[str, dict[str, int | float]]:
    import joblib

    sizes: dict[str, dict[str, int | float]] = {}
    for model, pipeline in stack.pipelines.items():
        raw, compressed = io.BytesIO(), io.BytesIO()
        joblib.dump(pipeline, raw)
        joblib.dump(pipeline, compressed, compress=3)
        onnx = stack.onnx_sizes[model]
        sizes[model] = {
            "onnx_bytes": onnx,
            "joblib_bytes": raw.tell(),
            "joblib_compress3_bytes": compressed.tell(),
            "onnx_over_joblib": round(onnx / raw.tell(), 3),
        }
    return sizes


def installed_bytes(distribution: str) -> int:
    """Bytes on disk of an installed distribution's files (RECORD), bytecode included."""
    files = metadata.distribution(distribution).files or []
    total = 0
    for entry in files:
        path = Path(str(entry.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def runtime_sizes() -> dict[str, int]:
    return {
        label: sum(installed_bytes(name) for name in names) for label, names in RUNTIME_SETS.items()
    }


def layer_sizes(say: Any = print) -> dict[str, Any]:
    """The arm64 inference layer's report (built if missing: cached, a few seconds) and a
    native build (the layer this machine can execute), each before and after trimming."""
    from layers.build_layer import BUILD_ROOT, REPORT_NAME, LayerReport, build_layer

    layers: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="layer-native-"))
    for arch, out_dir in (("arm64", BUILD_ROOT / "inference-arm64"), ("native", scratch)):
        try:
            report = build_layer(arch, out_dir)
        except Exception as error:  # network or pins: fall back to a previous report
            report_file = out_dir / REPORT_NAME
            if not report_file.is_file():
                say(f"  layer {arch}: not built ({error})")
                layers[arch] = {"error": str(error)[:300]}
                continue
            report = LayerReport.from_json(report_file.read_text())
        layers[arch] = {
            "arch": report.arch,
            "python": report.python_version,
            "size_before_trim": report.size_before_trim,
            "size_after_trim": report.size_after_trim,
            "budget": report.budget,
            "within_budget": report.within_budget,
            "versions": report.versions,
            "trimmed": report.trimmed,
        }
    shutil.rmtree(scratch, ignore_errors=True)
    return layers


def run_sizes(stack: BenchStack, say: Any = print) -> dict[str, Any]:
    return {
        "artifacts": artifact_sizes(stack),
        "runtime_install_bytes": runtime_sizes(),
        "layers": layer_sizes(say),
    }
