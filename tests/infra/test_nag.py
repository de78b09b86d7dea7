"""The whole app, as `cdk synth` builds it, passes cdk-nag's AwsSolutions checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from infra.app import LayerNotBuiltError, layer_code
from tests.infra.conftest import synthesize


def test_app_synthesizes_with_aws_solutions_checks_and_no_errors(
    tmp_path: Path, inference_layer_dir: Path
):
    # Synthesis raises on any unacknowledged finding; the annotations are a second look.
    synthesized = synthesize(tmp_path / "cdk.out", inference_layer_dir, checks=True)
    assert Annotations.from_stack(synthesized.stack).find_error("*", Match.any_value()) == []
    assert not (tmp_path / "cdk.out" / "validation-report.json").exists() or (
        '"conclusion": "failure"'
        not in (tmp_path / "cdk.out" / "validation-report.json").read_text()
    )


def test_app_with_iam_auth_passes_the_checks_too(tmp_path: Path, inference_layer_dir: Path):
    synthesized = synthesize(
        tmp_path / "cdk.out", inference_layer_dir, checks=True, context={"apiAuth": "iam"}
    )
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_synth_without_the_built_layer_says_to_run_make_layer(tmp_path: Path):
    with pytest.raises(LayerNotBuiltError, match=r"powertools layer .* run `make layer` first"):
        layer_code("powertools", tmp_path / "missing")
