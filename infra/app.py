"""CDK entry point (`cdk.json`: `python -m infra.app`): read context, compose, check, synth.

Only composition here (STYLE.md). No lookups and no AWS calls: the environment comes from
CDK_DEFAULT_ACCOUNT/REGION when the CLI provides them, else the stack is environment-agnostic.
"""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App, Environment, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.bundling import MODELS_DIR, REPO_ROOT
from infra.drift import DRIFT_HANDLER
from infra.settings import StackSettings
from infra.stack import ServerlessMlopsStack
from infra.stage import apply_stage
from infra.training import train_image_code
from mlops.spec import load_all_specs

INFERENCE_LAYER_DIR = REPO_ROOT / "layers" / "build" / "inference-arm64"
POWERTOOLS_LAYER_DIR = REPO_ROOT / "layers" / "build" / "powertools-arm64"
# Feature flags the stack relies on, set here rather than in cdk.json so that tests (which build
# an `App()` without the CLI) synthesize exactly what `cdk deploy` does.
FEATURE_FLAGS = {
    # Access logs are admitted by a bucket policy, not ACLs (buckets enforce object ownership).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class LayerNotBuiltError(RuntimeError):
    """A layer folder is missing: layers are built by `make layer`, not by synth."""


def layer_code(name: str, folder: Path) -> lambda_.Code:
    """A built layer (a folder holding `python/`), or a clear error naming the layer."""
    if not (folder / "python").is_dir():
        raise LayerNotBuiltError(
            f"{name} layer not found at {folder}/python: run `make layer` first "
            "(python layers/build_layer.py --arch arm64)"
        )
    return lambda_.Code.from_asset(str(folder))


def build_app(
    app: App,
    inference_layer: lambda_.Code,
    powertools_layer: lambda_.Code,
    *,
    checks: bool = True,
    specs_dir: Path = MODELS_DIR,
) -> ServerlessMlopsStack:
    """Compose the stack into `app` (still empty) and attach cdk-nag's AwsSolutions and
    Serverless checks.

    `checks=False` is for tests that assert wiring; one test synthesizes with the checks on.
    """
    for flag, value in FEATURE_FLAGS.items():
        app.node.set_context(flag, value)
    settings = StackSettings.from_context(app.node)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    stack = ServerlessMlopsStack(
        app,
        settings.stack_name,
        settings=settings,
        specs=load_all_specs(specs_dir),
        inference_layer=inference_layer,
        powertools_layer=powertools_layer,
        train_code=train_image_code(),
        rollout_code=train_image_code(cmd=["rollout.handler.handler"]),
        drift_code=train_image_code(cmd=[DRIFT_HANDLER]),
        env=Environment(account=account, region=region) if account and region else None,
        description="serverless-mlops: CSV in S3 -> ONNX model registry -> prediction API",
    )
    apply_stage(stack, settings)
    if checks:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack


def main() -> None:
    app = App()
    # `-c inferenceLayerDir=...` / `-c powertoolsLayerDir=...` point at other built layer folders
    # (default: `make layer`'s).
    inference_dir = app.node.try_get_context("inferenceLayerDir")
    powertools_dir = app.node.try_get_context("powertoolsLayerDir")
    try:
        inference = layer_code(
            "inference", Path(inference_dir) if inference_dir else INFERENCE_LAYER_DIR
        )
        powertools = layer_code(
            "powertools", Path(powertools_dir) if powertools_dir else POWERTOOLS_LAYER_DIR
        )
    except LayerNotBuiltError as error:
        raise SystemExit(str(error)) from None
    try:
        build_app(app, inference, powertools)
    except ValueError as error:  # SettingsError and any context value that cannot work
        raise SystemExit(f"cdk context: {error}") from None
    app.synth()


if __name__ == "__main__":
    main()
