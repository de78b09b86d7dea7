"""The inference layer runs a model on its own, with the same pinned runtime as the venv.

The layer is built for this machine (``native``: the arm64 one cannot execute here) with the same
requirements, constraints and trim rules as the deployed one, then a subprocess with *no*
site-packages imports onnxruntime and numpy from the layer alone and runs a model. That proves the
trim rules and the dropped dependencies (sympy, protobuf, flatbuffers, coloredlogs, packaging,
onnx, libonnxruntime.so) are not needed to serve (DESIGN §4, §7).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from layers.build_layer import (  # noqa: E402
    LayerBudgetExceededError,
    LayerReport,
    build_layer,
)

pytestmark = pytest.mark.slow

# Runs under `python -I -S -B`: stdlib only, plus the layer directory given as argv[1]; -B because
# /opt is read-only on Lambda and written bytecode would change the measured layer.
LAYER_PROBE = """
import json, sys
layer, model, rows = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, layer)
import numpy as np
import onnxruntime as ort
import orjson
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
x = np.asarray(json.loads(rows), dtype=np.float32)
labels, probabilities = session.run(["label", "probabilities"], {session.get_inputs()[0].name: x})
print(json.dumps({
    "labels": labels.tolist(),
    # The handler serialises probabilities with orjson straight from the array.
    "probabilities": json.loads(orjson.dumps(probabilities, option=orjson.OPT_SERIALIZE_NUMPY)),
    "orjson_file": orjson.__file__,
    "onnxruntime_file": ort.__file__,
    "numpy_file": np.__file__,
    "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__},
    "path": sys.path,
    "modules": sorted({m.split(".")[0] for m in sys.modules}),
}))
"""

DROPPED = ("sympy", "google", "flatbuffers", "coloredlogs", "packaging", "onnx", "pydantic")


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerReport:
    return build_layer("native", tmp_path_factory.mktemp("layer") / "inference-native")


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0).fit(x, y)
    onx = to_onnx(clf, x[:1], options={"zipmap": False})
    path = tmp_path_factory.mktemp("model") / "iris.onnx"
    path.write_bytes(onx.SerializeToString())
    return path, x


def run_isolated(probe: str, args: list[str], cwd: Path) -> Any:
    """Run `probe` under `python -I -S -B` (stdlib only; the layer comes in through argv) and
    return the JSON it prints."""
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", probe, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def constraint_pins() -> dict[str, str]:
    text = (REPO_ROOT / "constraints.txt").read_text()
    return {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE)
    }


def test_layer_alone_runs_the_model_like_the_venv(
    layer: LayerReport, iris_model: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    model, x = iris_model
    python_dir = Path(layer.python_dir)
    out = run_isolated(LAYER_PROBE, [str(python_dir), str(model), json.dumps(x.tolist())], tmp_path)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    labels, probabilities = (
        np.asarray(a) for a in session.run(["label", "probabilities"], {"X": x})
    )

    np.testing.assert_allclose(out["probabilities"], probabilities, rtol=0, atol=1e-6)
    assert out["labels"] == labels.tolist()
    assert Path(out["onnxruntime_file"]).resolve().is_relative_to(python_dir.resolve())
    assert Path(out["numpy_file"]).resolve().is_relative_to(python_dir.resolve())
    assert Path(out["orjson_file"]).resolve().is_relative_to(python_dir.resolve())
    # Nothing outside the stdlib and the layer was importable, so the dropped deps are not needed.
    assert not any("site-packages" in p for p in out["path"]), out["path"]
    assert not set(DROPPED) & set(out["modules"])


def test_layer_versions_match_venv_and_constraints(layer: LayerReport) -> None:
    pins = constraint_pins()
    in_layer = {
        d.metadata["Name"].lower().replace("_", "-"): d.version
        for d in metadata.distributions(path=[layer.python_dir])
    }
    assert in_layer == layer.versions
    for name in ("onnxruntime", "numpy"):
        assert in_layer[name] == metadata.version(name) == pins[name], name
    assert in_layer["orjson"] == metadata.version("orjson") == pins["orjson"]


def test_trimmed_layer_is_small_and_clean(layer: LayerReport) -> None:
    root = Path(layer.python_dir)
    measured = sum(p.lstat().st_size for p in root.rglob("*") if p.is_file())
    assert measured == layer.size_after_trim
    assert layer.within_budget
    assert layer.size_after_trim <= layer.budget
    assert layer.size_after_trim < layer.size_before_trim
    assert [p for p in root.rglob("tests") if p.is_dir()] == []
    assert not (root / "numpy" / "_core" / "include").exists()
    assert list(root.rglob("*.h")) == []
    assert list(root.glob("onnxruntime/capi/libonnxruntime.so*")) == []
    # pydantic comes from our Powertools layer: never a second copy in this one.
    assert sorted(layer.versions) == [
        "numpy",
        "onnxruntime",
        "orjson",
    ]
    assert not (root / "pydantic").exists()
    report_file = root.parent / "layer-report.json"
    assert json.loads(report_file.read_text())["within_budget"] is True


def test_rebuild_is_cached_and_budget_is_enforced(layer: LayerReport) -> None:
    out_dir = Path(layer.python_dir).parent
    again = build_layer("native", out_dir)
    assert again.cached
    assert again.inputs_hash == layer.inputs_hash
    assert again.size_after_trim == layer.size_after_trim
    with pytest.raises(LayerBudgetExceededError, match="over its budget"):
        build_layer("native", out_dir, budget_bytes=layer.size_after_trim - 1)


# What the functions import from the Powertools layer, under `python -I -S -B` with only the
# layer on sys.path (the Lambda runtime adds botocore, which none of these import).
POWERTOOLS_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import aws_lambda_powertools, pydantic, pydantic_core
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel

class Row(BaseModel):
    x: float

print(json.dumps({
    "parsed": Row.model_validate({"x": "1.5"}).x,
    "files": [aws_lambda_powertools.__file__, pydantic.__file__, pydantic_core.__file__],
    "path": sys.path,
}))
"""


@pytest.fixture(scope="module")
def powertools_layer(tmp_path_factory: pytest.TempPathFactory) -> LayerReport:
    return build_layer(
        "native", tmp_path_factory.mktemp("layer") / "powertools-native", layer="powertools"
    )


def test_powertools_layer_holds_exactly_the_pinned_versions_the_venv_runs(
    powertools_layer: LayerReport,
) -> None:
    """DESIGN §7: the deployed Powertools and pydantic are the ones the tests ran (AWS's public
    layer number 27 held another Powertools release than the pin)."""
    pins = constraint_pins()
    in_layer = {
        d.metadata["Name"].lower().replace("_", "-"): d.version
        for d in metadata.distributions(path=[powertools_layer.python_dir])
    }
    assert in_layer == powertools_layer.versions
    assert sorted(in_layer) == [
        "annotated-types",
        "aws-lambda-powertools",
        "jmespath",
        "pydantic",
        "pydantic-core",
        "typing-extensions",
        "typing-inspection",
    ]
    for name, version in in_layer.items():
        assert version == metadata.version(name) == pins[name], name


def test_powertools_layer_alone_imports_what_the_functions_use(
    powertools_layer: LayerReport, tmp_path: Path
) -> None:
    python_dir = Path(powertools_layer.python_dir)
    out = run_isolated(POWERTOOLS_PROBE, [str(python_dir)], tmp_path)
    assert out["parsed"] == 1.5
    for file in out["files"]:
        assert Path(file).resolve().is_relative_to(python_dir.resolve()), file
    assert not any("site-packages" in p for p in out["path"]), out["path"]
