"""Alerts: one SNS topic every failure, alarm and drift report is published to.

The topic is encrypted with a customer-managed key because CloudWatch alarms cannot publish to a
topic encrypted with the AWS-managed SNS key (DESIGN §7).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.nag import acknowledge
from mlops.resources import ResourceNames

# Services that publish to the topic and therefore must be able to use its key.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")
ARN_COLON = ArnFormat.COLON_RESOURCE_NAME


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
        # `enforce_ssl` makes CDK write a topic policy holding only its deny-non-TLS statement,
        # and a topic policy replaces SNS's default one: without this statement no alarm could
        # publish. Scoped to this account's alarms (CloudWatch sends both keys to SNS).
        alarms = Stack.of(self).format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ARN_COLON
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarms},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
        if alert_email:
            subscription = subscriptions.EmailSubscription(alert_email)
            self.topic.add_subscription(subscription)
            acknowledge(
                self.topic,
                "Serverless-SNSRedrivePolicy",
                "The e-mail subscription's dead-letter queue would hold alerts that could not be "
                "mailed, and the only way to hear of it would be an alarm published to this same "
                "subscription; failed e-mail deliveries show in the topic's "
                "NumberOfNotificationsFailed metric instead.",
            )


def grant_publish_alerts(role: iam.IRole, topic: sns.ITopic, key: kms.IKey) -> None:
    """Let `role` publish to the alerts topic: sns:Publish on it, and the data key SNS encrypts
    with on the publisher's behalf (SSE-KMS; without the key grant Publish is refused)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PublishAlerts", actions=["sns:Publish"], resources=[topic.topic_arn]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="EncryptAlerts",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
        )
    )
