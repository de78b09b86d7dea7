"""Synthesize the stack once per test session (per xdist worker) and share the template.

No CDK CLI, no Docker engine, no AWS credentials: `App()` + `Template.from_stack`. The repo root
is importable because tests/ and tests/infra/ are packages (pytest puts the root on sys.path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import ServerlessMlopsStack


@dataclass(frozen=True)
class Synthesized:
    """A synthesized app: the stack, its template (as assertions and as a dict), the outdir."""

    stack: ServerlessMlopsStack
    template: Template
    outdir: Path

    @cached_property
    def json(self) -> dict[str, Any]:
        """The template as a dict (converted once: each jsii call costs)."""
        return dict(self.template.to_json())

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of `resource_type`."""
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def resolve(self, value: Any) -> Any:
        """What `value` (tokens included) looks like in the template."""
        return Stack.of(self.stack).resolve(value)

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))

    def staged_asset(self, asset_hash: str) -> Path:
        """The folder CDK staged for an asset (zip or image context)."""
        return self.outdir / f"asset.{asset_hash}"

    def asset_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.outdir / f"{self.stack.artifact_id}.assets.json").read_text()
        )
        return data


@pytest.fixture(scope="session")
def inference_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stand-in for the inference layer folder (`python/` inside).

    The real layer (contents, size, versions against the venv) is built by `make layer` and
    tested in tests/integration/test_inference_layer.py; here only its wiring matters.
    """
    folder = tmp_path_factory.mktemp("inference-layer")
    (folder / "python").mkdir()
    (folder / "python" / "stand_in.py").write_text("# stand-in for onnxruntime + numpy\n")
    return folder


def synthesize(
    outdir: Path,
    layer_dir: Path,
    *,
    checks: bool,
    context: dict[str, Any] | None = None,
    specs_dir: Path | None = None,
) -> Synthesized:
    """Build the real app (same composition as infra/app.py) into `outdir` and synthesize;
    `specs_dir` declares other models than the repository's models/."""
    app = App(outdir=str(outdir), context=context or {})
    # The same stand-in serves as both layers: only their wiring is asserted here.
    code = lambda_.Code.from_asset(str(layer_dir))
    extra = {"specs_dir": specs_dir} if specs_dir is not None else {}
    stack = build_app(app, code, code, checks=checks, **extra)
    template = Template.from_stack(stack)
    return Synthesized(stack=stack, template=template, outdir=outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, inference_layer_dir: Path) -> Synthesized:
    """The stack as `cdk synth` builds it with default context, without cdk-nag (test_nag
    checks that separately, so a nag finding fails one test, not all)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), inference_layer_dir, checks=False)


#: The prod stage as CI deploys it (prod refuses to synthesize without an alert address).
PROD_CONTEXT = {"stage": "prod", "alertEmail": "ops@example.com"}


@pytest.fixture(scope="session")
def synthesized_prod(
    tmp_path_factory: pytest.TempPathFactory, inference_layer_dir: Path
) -> Synthesized:
    """The stack as `cdk synth -c stage=prod -c alertEmail=...` builds it, without cdk-nag."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"), inference_layer_dir, checks=False, context=PROD_CONTEXT
    )
