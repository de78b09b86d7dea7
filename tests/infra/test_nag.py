"""The whole app, as `cdk synth` builds it, passes cdk-nag's AwsSolutions and Serverless checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from infra.app import LayerNotBuiltError, build_app, layer_code
from tests.infra.conftest import PROD_CONTEXT, synthesize


def test_app_synthesizes_with_both_packs_and_no_errors(tmp_path: Path, inference_layer_dir: Path):
    # Synthesis raises on any unacknowledged finding; the annotations are a second look.
    synthesized = synthesize(tmp_path / "cdk.out", inference_layer_dir, checks=True)
    assert Annotations.from_stack(synthesized.stack).find_error("*", Match.any_value()) == []
    assert not (tmp_path / "cdk.out" / "validation-report.json").exists() or (
        '"conclusion": "failure"'
        not in (tmp_path / "cdk.out" / "validation-report.json").read_text()
    )


def test_prod_with_its_alert_email_passes_the_checks_too(tmp_path: Path, inference_layer_dir: Path):
    synthesized = synthesize(
        tmp_path / "cdk.out", inference_layer_dir, checks=True, context=PROD_CONTEXT
    )
    assert synthesized.resources("AWS::SNS::Subscription")


def test_app_with_iam_auth_passes_the_checks_too(tmp_path: Path, inference_layer_dir: Path):
    synthesized = synthesize(
        tmp_path / "cdk.out", inference_layer_dir, checks=True, context={"apiAuth": "iam"}
    )
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"


@pytest.mark.parametrize(
    "context",
    [
        {"api": "http"},
        {
            "api": "http",
            "apiAuth": "jwt",
            "jwtIssuer": "https://issuer.example",
            "jwtAudience": "a",
        },
        {"snapStart": "true"},
    ],
    ids=["http-iam", "http-jwt", "snapstart"],
)
def test_the_cost_options_pass_both_packs_too(
    tmp_path: Path, inference_layer_dir: Path, context: dict[str, str]
):
    synthesized = synthesize(
        tmp_path / "cdk.out", inference_layer_dir, checks=True, context=context
    )
    assert Annotations.from_stack(synthesized.stack).find_error("*", Match.any_value()) == []


def test_synth_without_the_built_layer_says_to_run_make_layer(tmp_path: Path):
    with pytest.raises(LayerNotBuiltError, match=r"powertools layer .* run `make layer` first"):
        layer_code("powertools", tmp_path / "missing")


@pytest.mark.parametrize(
    ("finding", "make"),
    [
        # A queue with no redrive policy: the Serverless pack's rule, not AwsSolutions'.
        (
            "Serverless-SQSRedrivePolicy",
            lambda stack: sqs.Queue(stack, "Unchecked", enforce_ssl=True),
        ),
        # A queue without TLS enforcement: AwsSolutions-SQS4.
        ("AwsSolutions-SQS4", lambda stack: sqs.Queue(stack, "Unchecked")),
    ],
)
def test_each_pack_is_attached_and_fails_the_synth(
    tmp_path: Path, inference_layer_dir: Path, finding: str, make
):
    """The checks are live: one unacknowledged finding of either pack stops the synth."""
    app = App(outdir=str(tmp_path / "cdk.out"))
    code = lambda_.Code.from_asset(str(inference_layer_dir))
    stack = build_app(app, code, code, checks=True)
    make(stack)
    with pytest.raises(RuntimeError, match=finding):
        app.synth()
