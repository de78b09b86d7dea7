"""Alerts: one SNS topic every failure, alarm and drift report is published to.

The topic is encrypted with a customer-managed key because CloudWatch alarms cannot publish to a
topic encrypted with the AWS-managed SNS key (DESIGN §7).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from mlops.resources import ResourceNames

# Services that publish to the topic and therefore must be able to use its key.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


class Alerts(Construct):
    """The alerts topic, its key, and an optional e-mail subscription.

    Attributes: `topic`, `key`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        alert_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {names.alerts_topic} SNS topic",
            enable_key_rotation=True,
        )
        # No aws:SourceArn / aws:SourceAccount condition: the KMS request CloudWatch and
        # EventBridge make while publishing carries neither, so such a condition makes delivery
        # drop silently (DESIGN §7). An infra test asserts this statement.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmAndEventPublishers",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=names.alerts_topic,
            display_name="serverless-mlops alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
