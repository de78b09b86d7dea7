"""The alerts topic: a customer-managed key CloudWatch and EventBridge can use (DESIGN §7)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Aws, Stack
from aws_cdk.assertions import Template

from infra.alerts import Alerts
from mlops.resources import ResourceNames
from tests.infra.conftest import Synthesized


def _key_policy_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    (key,) = synthesized.resources("AWS::KMS::Key").values()
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def test_key_policy_admits_cloudwatch_and_eventbridge_without_source_conditions(
    synthesized: Synthesized,
):
    publishers = [
        statement
        for statement in _key_policy_statements(synthesized)
        if "Service" in statement.get("Principal", {})
    ]
    assert len(publishers) == 1
    (statement,) = publishers
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Principal"]["Service"]) == [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # A SourceArn/SourceAccount condition makes alarm and event delivery drop silently.
    assert "Condition" not in statement


def test_key_rotates(synthesized: Synthesized):
    synthesized.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_topic_is_encrypted_with_the_customer_managed_key(synthesized: Synthesized):
    (key_id,) = synthesized.resources("AWS::KMS::Key")
    synthesized.template.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": "mlops-dev-alerts", "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
    )


def test_topic_denies_publishing_without_tls(synthesized: Synthesized):
    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_topic_policy_lets_this_accounts_alarms_publish(synthesized: Synthesized):
    """The deny-non-TLS topic policy replaces SNS's default one: CloudWatch needs its own allow,
    scoped to this account's alarms (confused-deputy protection)."""
    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    allows = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(allows) == 1
    (statement,) = allows
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": topic_id}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    source_arn = synthesized.resolve(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source_arn == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":alarm:*",
            ],
        ]
    }


@pytest.mark.parametrize(("alert_email", "subscriptions"), [(None, 0), ("ops@example.com", 1)])
def test_email_subscription_only_when_alert_email_is_set(
    alert_email: str | None, subscriptions: int
):
    stack = Stack(App(), "AlertsOnly")
    names = ResourceNames(prefix="mlops", account=Aws.ACCOUNT_ID, region=Aws.REGION)
    Alerts(stack, "Alerts", names=names, alert_email=alert_email)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Subscription", subscriptions)
    if alert_email:
        template.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": alert_email}
        )
