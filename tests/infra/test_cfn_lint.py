"""cfn-lint finds no error in the synthesized template, for both stages and the shipped specs.

Errors fail the test; a warning fails it too unless its rule is listed in ACCEPTED_WARNINGS with
the reason it does not apply. Informational findings are not reported.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from tests.infra.conftest import Synthesized, synthesize

REGIONS = ["us-east-1"]
ACCEPTED_WARNINGS = {
    "W3005": "aws-cdk-lib writes an explicit DependsOn (on a function's role and its default "
    "policy, on a stream's role) beside the GetAtt that already orders it: redundant, and "
    "harmless to CloudFormation.",
}


def findings(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors and unaccepted warnings on `template`, one line each."""
    matches = lint(
        json.dumps(template),
        config=ManualArgs(regions=REGIONS, ignore_checks=["I"]),
    )
    return [
        f"{match.rule.id} {'/'.join(str(p) for p in match.path)}: {match.message}"
        for match in matches
        if match.rule.id.startswith("E")
        or (match.rule.id.startswith("W") and match.rule.id not in ACCEPTED_WARNINGS)
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_template_has_no_cfn_lint_error(
    stage: str, synthesized: Synthesized, synthesized_prod: Synthesized
):
    chosen = synthesized if stage == "dev" else synthesized_prod
    assert findings(chosen.json) == []


def test_cfn_lint_reports_an_invalid_property(synthesized: Synthesized):
    """The check can fail: one property Lambda does not have is an error."""
    template = copy.deepcopy(synthesized.json)
    function = next(
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    )
    function["Properties"]["MemorySizeMb"] = 1024
    problems = findings(template)
    assert any(problem.startswith("E3002") and "MemorySizeMb" in problem for problem in problems)


@pytest.mark.parametrize(
    "context",
    [{"api": "http"}, {"snapStart": "true"}],
    ids=["http", "snapstart"],
)
def test_the_cost_options_have_no_cfn_lint_error(
    tmp_path: Path, inference_layer_dir: Path, context: dict[str, str]
):
    """The HTTP API front and SnapStart lint clean too. W2530 (SnapStart without an
    `AWS::Lambda::Version` in the template) is accepted there: the rollout code publishes the
    versions (DESIGN §7: our code owns the alias), so none is in the template by design."""
    chosen = synthesize(tmp_path / "cdk.out", inference_layer_dir, checks=False, context=context)
    assert [f for f in findings(chosen.json) if not f.startswith("W2530")] == []
