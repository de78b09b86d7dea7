"""Zip-function assets built without Docker: our own code, copied, plus the model specs.

Our shared package `mlops` is bundled into every function's asset (STYLE.md: no layer for our
own code, no sys.path hacks); third-party packages come from layers. Bundling is a plain copy,
so `cdk synth` needs no Docker engine and no network (DESIGN §4).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
MODELS_DIR = REPO_ROOT / "models"

# The CLI and the local stack run on a laptop, never in Lambda.
_EXCLUDED_FROM_MLOPS = ("cli", "local")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache")


@jsii.implements(ILocalBundling)
class CopySources:
    """Local bundling: copy `functions/mlops`, the named handler packages and `models/`.

    The asset then looks like `/var/task/{mlops,<handler package>,models}`: the handler imports
    `mlops` directly, and the specs are found at `/var/task/models` (MLOPS_SPECS_DIR).
    """

    def __init__(self, handler_packages: Sequence[str]) -> None:
        self.handler_packages = tuple(handler_packages)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_kwargs: object) -> bool:
        """Copy the sources into `output_dir`; True tells CDK not to fall back to Docker."""
        out = Path(output_dir)
        shutil.copytree(
            FUNCTIONS_DIR / "mlops",
            out / "mlops",
            ignore=_ignore_with(FUNCTIONS_DIR / "mlops", _EXCLUDED_FROM_MLOPS),
            dirs_exist_ok=True,
        )
        for package in self.handler_packages:
            source = FUNCTIONS_DIR / package
            if not source.is_dir():
                raise FileNotFoundError(f"handler package {source} does not exist")
            shutil.copytree(source, out / package, ignore=_IGNORED, dirs_exist_ok=True)
        shutil.copytree(MODELS_DIR, out / "models", ignore=_IGNORED, dirs_exist_ok=True)
        return True


def _ignore_with(root: Path, top_level: Sequence[str]) -> Callable[[str, list[str]], set[str]]:
    """shutil ignore callable: the usual junk everywhere, plus `top_level` names under `root`."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(_IGNORED(directory, names))
        if Path(directory) == root:
            ignored.update(name for name in names if name in top_level)
        return ignored

    return ignore


def function_code(*handler_packages: str) -> lambda_.Code:
    """A zip asset with `mlops`, the given handler packages and the model specs.

    Hashed by its output, so a change to a spec or to `mlops` changes the asset even though the
    copy's sources span several folders. CDK caches staged assets by source path and bundling
    options (not by what local bundling does), so both name the handler packages: otherwise two
    functions' assets would silently be one.
    """
    if not handler_packages:
        raise ValueError("name at least one handler package (e.g. 'predict')")
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR / handler_packages[0]),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("local-bundling-only"),
            local=CopySources(handler_packages),
            environment={"HANDLER_PACKAGES": ",".join(handler_packages)},
        ),
    )
