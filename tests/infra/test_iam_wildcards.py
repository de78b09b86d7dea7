"""No IAM action wildcard on a data resource, in any policy the template holds.

Every Allow statement of every role policy (inline and AWS::IAM::Policy), managed policy, bucket,
queue and topic policy and KMS key policy is read. An action with `*` or `?` in it (`s3:*`,
`s3:GetObject*`, `kms:GenerateDataKey*`, `*`), or a `NotAction`, is a finding when the statement
reaches a data resource: an S3 bucket or object, a DynamoDB table, an SQS queue, an SNS topic or
a KMS key, or `*` (or a `NotResource`) with an action of those services. Deny statements may use
wildcards (the TLS-only `s3:*` / `sqs:*` denies do). CDK's `grant_read` & co. emit such patterns;
the stack writes explicit action lists instead, and `tests/iam` proves each one is needed.

Two findings are accepted, each for a precise reason (ACCEPTED), and managed policies are only
accepted by name, since their statements are not in the template.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk import aws_lambda as lambda_

from infra.app import build_app
from tests.iam.template import ResolvedTemplate
from tests.infra.conftest import Synthesized

ACCOUNT = "123456789012"
REGION = "eu-west-1"
DATA_SERVICES = ("s3", "dynamodb", "sqs", "sns", "kms")
POLICY_DOCUMENTS = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


@dataclass(frozen=True)
class Finding:
    """A wildcard action reaching a data resource: where, who, which action, on what."""

    policy_type: str
    principals: tuple[str, ...]
    action: str
    resources: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.policy_type} {self.principals}: {self.action} on {self.resources}"


# (policy type, principals, action) -> why it is not a wildcard risk.
ACCEPTED: dict[tuple[str, tuple[str, ...], str], str] = {
    ("AWS::KMS::Key", (ROOT,), "kms:*"): (
        "The default key policy statement: it gives the account (not any user or role) every "
        "key action so that IAM policies can grant access and the key never becomes "
        "unmanageable; by itself it lets nobody use the key, and every identity policy in the "
        "template is held to this test."
    ),
    (
        "AWS::KMS::Key",
        ("cloudwatch.amazonaws.com", "events.amazonaws.com"),
        "kms:GenerateDataKey*",
    ): (
        "AWS's documented statement for service publishers to an SSE-KMS topic (DESIGN §7). In "
        "a key policy `*` is this key only, the principals are the two AWS services, and the "
        "pattern matches the four GenerateDataKey* actions, none of which reads or decrypts "
        "data. Narrowing it cannot be proven here (moto evaluates no key policy) and a wrong "
        "narrowing makes alarms deploy and deliver nothing."
    ),
}
# Attached AWS managed policies, whose statements the template does not show.
ACCEPTED_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "logs:CreateLogGroup/CreateLogStream/PutLogEvents only "
    "(aws-cdk-lib's own bucket-notifications and custom-resource framework functions)",
    "AmazonAPIGatewayPushToCloudWatchLogs": "CloudWatch Logs actions only (API Gateway's "
    "account-level logging role)",
}


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(item) for item in items)


def _principals(statement: Mapping[str, Any]) -> tuple[str, ...]:
    principal = statement.get("Principal")
    if principal is None:
        return ()  # an identity policy: its role is the principal
    if principal == "*":
        return ("*",)
    return tuple(sorted(p for values in principal.values() for p in _strings(values)))


def _is_wildcard(action: str) -> bool:
    return "*" in action or "?" in action


def _service(action_or_arn: str) -> str:
    if action_or_arn.startswith("arn:"):
        return action_or_arn.split(":")[2]
    return action_or_arn.split(":")[0] if ":" in action_or_arn else "*"


def _reaches_data(action: str, resources: tuple[str, ...]) -> bool:
    for resource in resources:
        if resource == "*":
            if action == "*" or _service(action) in DATA_SERVICES:
                return True
        elif _service(resource) in DATA_SERVICES:
            return True
    return False


def statements(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(policy type, resolved statement) for every policy statement in the template."""
    resolved = ResolvedTemplate(template, account=ACCOUNT, region=REGION)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] in POLICY_DOCUMENTS:
            documents.append(properties[POLICY_DOCUMENTS[resource["Type"]]])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                yield resource["Type"], resolved.resolve(statement)


def wildcard_findings(template: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for policy_type, statement in statements(template):
        if statement["Effect"] != "Allow":
            continue
        resources = _strings(statement.get("Resource", "*"))
        if "NotResource" in statement:
            resources = ("*",)
        principals = _principals(statement)
        if "NotAction" in statement:
            found.append(Finding(policy_type, principals, "NotAction", resources))
            continue
        for action in _strings(statement["Action"]):
            if _is_wildcard(action) and _reaches_data(action, resources):
                found.append(Finding(policy_type, principals, action, resources))
    return found


def unaccepted(template: Mapping[str, Any]) -> list[str]:
    return [
        str(finding)
        for finding in wildcard_findings(template)
        if (finding.policy_type, finding.principals, finding.action) not in ACCEPTED
    ]


def managed_policies(template: Mapping[str, Any]) -> set[str]:
    resolved = ResolvedTemplate(template, account=ACCOUNT, region=REGION)
    names: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in resource["Properties"].get("ManagedPolicyArns", []):
                names.add(str(resolved.resolve(arn)).rsplit("/", 1)[-1])
    return names


def test_no_policy_grants_a_wildcard_action_on_a_data_resource(
    synthesized: Synthesized, synthesized_prod: Synthesized
):
    for template in (synthesized.json, synthesized_prod.json):
        assert unaccepted(template) == []
        # Each accepted finding is still there: a stale exception would hide a new one.
        accepted = {(f.policy_type, f.principals, f.action) for f in wildcard_findings(template)}
        assert accepted == set(ACCEPTED)


def test_only_known_managed_policies_are_attached(synthesized: Synthesized):
    assert managed_policies(synthesized.json) == set(ACCEPTED_MANAGED_POLICIES)


def test_the_scan_reads_every_kind_of_policy(synthesized: Synthesized):
    kinds = {policy_type for policy_type, _ in statements(synthesized.json)}
    assert kinds >= {
        "AWS::IAM::Policy",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::KMS::Key",
    }


def _template(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyDocument": {"Statement": [statement]}},
            }
        }
    }


def test_the_scan_flags_each_kind_of_wildcard_and_spares_denies_and_exact_actions():
    bucket = "arn:aws:s3:::b/models/*"
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    flagged: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "s3:GetObject*", "Resource": bucket},
        {"Effect": "Allow", "Action": ["s3:List*"], "Resource": "arn:aws:s3:::b"},
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": table},
        {"Effect": "Allow", "Action": "sqs:Send?essage", "Resource": "arn:aws:sqs:r:a:q"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ]
    for statement in flagged:
        assert unaccepted(_template(statement)), statement
    spared: list[dict[str, Any]] = [
        {"Effect": "Deny", "Action": "s3:*", "Resource": bucket},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": bucket},
        {"Effect": "Allow", "Action": "xray:Put*", "Resource": "*"},
        {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:r:a:log-group:g"},
    ]
    for statement in spared:
        assert not unaccepted(_template(statement)), statement


def test_a_cdk_grant_read_on_the_model_bucket_is_caught(tmp_path: Path, inference_layer_dir: Path):
    """What the test exists for: CDK's grant helpers write `s3:GetObject*`, `s3:List*`."""
    app = App(outdir=str(tmp_path / "cdk.out"))
    code = lambda_.Code.from_asset(str(inference_layer_dir))
    stack = build_app(app, code, code, checks=False)
    storage: Any = stack.node.find_child("Storage")
    training: Any = stack.node.find_child("Training")
    storage.model_bucket.grant_read(training.function)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    problems = unaccepted(template)
    assert any("s3:GetObject*" in problem for problem in problems), problems
    assert any("s3:List*" in problem for problem in problems), problems
