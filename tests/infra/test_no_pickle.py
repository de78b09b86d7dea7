"""No pickle is loaded at run time: the code that ships to Lambda never unpickles anything.

"Ships" is read from the synthesized app, not from a list: every zip asset CDK staged for our
functions (predict, serving setup) and the train image's build context (train, rollout and
drift run from it; its Dockerfile installs everything under `functions/`). Each Python file
there is parsed (AST) and fails the test if it imports a module that unpickles (pickle, its C
twin, cloudpickle, dill, joblib, shelve, marshal; `import x as y` and `from x import y` count,
and so does `__import__`/`importlib.import_module` with such a name), calls `read_pickle`, or
calls `numpy.load` without `allow_pickle=False`. Models travel as ONNX (protobuf) plus JSON.

`mlops/local/snapshot.py` pickles the local stack's moto state (its own file, on a laptop): it
is outside the rule because `mlops/local` (and `mlops/cli`) never ship, which the test proves
on the same staged trees; the scanner's positive control is that very file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.bundling import FUNCTIONS_DIR
from tests.infra.conftest import Synthesized

UNPICKLING_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "dill",
    "joblib",
    "shelve",
    "marshal",
}
NEVER_SHIPPED = ("mlops/cli", "mlops/local")


def _unpickling(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in UNPICKLING_MODULES or "joblib" in parts or "pickle" in parts[-1]


def pickle_uses(source: str, filename: str = "<source>") -> list[str]:
    """Every way `source` could load a pickle, as 'line N: what'."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    numpy_names: set[str] = set()  # names bound to the numpy module
    numpy_loads: set[str] = set()  # names bound to numpy.load
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _unpickling(alias.name):
                    found.append(f"line {node.lineno}: import {alias.name}")
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if _unpickling(node.module):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if _unpickling(f"{node.module}.{alias.name}") and alias.name != "*":
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                if node.module == "numpy" and alias.name == "load":
                    numpy_loads.add(alias.asname or "load")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name in ("__import__", "import_module") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and _unpickling(str(first.value)):
                found.append(f"line {node.lineno}: {name}({first.value!r})")
        if name == "read_pickle":
            found.append(f"line {node.lineno}: read_pickle()")
        is_numpy_load = (
            isinstance(function, ast.Attribute)
            and function.attr == "load"
            and isinstance(function.value, ast.Name)
            and function.value.id in numpy_names
        ) or (isinstance(function, ast.Name) and function.id in numpy_loads)
        if is_numpy_load and not any(
            keyword.arg == "allow_pickle"
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value is False
            for keyword in node.keywords
        ):
            found.append(f"line {node.lineno}: numpy.load without allow_pickle=False")
    return found


def shipped_trees(synthesized: Synthesized) -> dict[str, Path]:
    """What each of our functions runs, as staged by CDK: zip assets holding `mlops`, and the
    image context's `functions/` (the Dockerfile installs all of it)."""
    trees: dict[str, Path] = {}
    for logical_id, function in synthesized.resources("AWS::Lambda::Function").items():
        code = function["Properties"]["Code"]
        if "S3Key" in code and isinstance(code["S3Key"], str):
            asset = synthesized.staged_asset(code["S3Key"].removesuffix(".zip"))
            if (asset / "mlops").is_dir():
                trees[logical_id] = asset
    (image,) = synthesized.asset_manifest()["dockerImages"].values()
    trees["train image"] = synthesized.outdir / image["source"]["directory"] / "functions"
    return trees


def python_files(tree: Path) -> Iterator[Path]:
    yield from sorted(tree.rglob("*.py"))


def test_the_scan_covers_every_function_kind(synthesized: Synthesized):
    trees = shipped_trees(synthesized)
    handlers = {
        package
        for tree in trees.values()
        for package in ("predict", "serving_setup", "train", "rollout", "drift")
        if (tree / package / "handler.py").is_file()
    }
    assert handlers == {"predict", "serving_setup", "train", "rollout", "drift"}
    assert sum(1 for tree in trees.values() for _ in python_files(tree)) > 50


def test_no_shipped_code_loads_a_pickle(synthesized: Synthesized):
    problems = [
        f"{where}: {path.relative_to(tree)} {use}"
        for where, tree in shipped_trees(synthesized).items()
        for path in python_files(tree)
        for use in pickle_uses(path.read_text(), str(path))
    ]
    assert problems == []


def test_the_cli_and_the_local_stack_never_ship(synthesized: Synthesized):
    for where, tree in shipped_trees(synthesized).items():
        for folder in NEVER_SHIPPED:
            assert not (tree / folder).exists(), f"{where} ships {folder}"


def test_shipped_code_imports_only_shipped_mlops_modules(synthesized: Synthesized):
    """Leaving cli/ and local/ out is safe: no shipped module imports them (or anything else
    missing from its tree), so every function imports in Lambda as it does here."""
    missing: list[str] = []
    for where, tree in shipped_trees(synthesized).items():
        for path in python_files(tree):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                modules: list[str] = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules = [node.module]
                for module in modules:
                    if module.split(".")[0] != "mlops":
                        continue
                    base = tree.joinpath(*module.split("."))
                    if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
                        missing.append(f"{where}: {path.relative_to(tree)} imports {module}")
    assert missing == []


def test_the_scan_finds_the_local_stacks_real_pickle_use():
    """Positive control on a real file: the snapshot that the rule leaves out on purpose."""
    snapshot = FUNCTIONS_DIR / "mlops" / "local" / "snapshot.py"
    uses = pickle_uses(snapshot.read_text(), str(snapshot))
    assert any("import pickle" in use for use in uses), uses


@pytest.mark.parametrize(
    "source",
    [
        "import pickle as p\np.loads(b'')",
        "from pickle import loads as l",
        "import _pickle",
        "import joblib",
        "from sklearn.externals import joblib",
        "import dill",
        "import cloudpickle",
        "import shelve",
        "import marshal",
        "__import__('pickle')",
        "import importlib\nimportlib.import_module('dill')",
        "import pandas as pd\npd.read_pickle('f')",
        "import numpy as np\nnp.load('f.npy')",
        "import numpy\nnumpy.load('f.npy', allow_pickle=True)",
        "from numpy import load as npload\nnpload('f.npy')",
    ],
)
def test_the_scan_catches_each_way_in(source: str):
    assert pickle_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nnp.load('f.npy', allow_pickle=False)",
        "import json\njson.loads('{}')",
        "import onnx\nonnx.load('model.onnx')",
        "import orjson\norjson.loads(b'{}')",
    ],
)
def test_the_scan_spares_safe_loads(source: str):
    assert pickle_uses(source) == []
