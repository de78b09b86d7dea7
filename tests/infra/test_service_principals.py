"""AWS services that deliver to our resources are allowed to, by the resource's own policy.

moto delivers S3 -> SQS and SNS without looking at any policy, and alarms never fire locally, so
a missing resource-policy statement passes every local test and drops deliveries on AWS: the
alerts topic once had only CDK's deny-non-TLS statement (which replaces SNS's default policy),
so no alarm could publish. Each delivery path in the template is found from the template itself
(every alarm action, every bucket notification, every log subscription, every EventBridge
target), so a path added later is checked without editing this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.iam.policy import Permission, Statement, is_allowed
from tests.iam.template import ResolvedTemplate
from tests.infra.conftest import Synthesized

ACCOUNT, REGION = "123456789012", "eu-west-1"
TLS = {"aws:SecureTransport": "true"}


@pytest.fixture(scope="module")
def resolved(synthesized: Synthesized) -> ResolvedTemplate:
    return ResolvedTemplate(synthesized.json, account=ACCOUNT, region=REGION)


def admitted(statements: list[Statement], principal: str) -> list[Statement]:
    """The statements of a resource policy that apply to `principal`."""
    return [s for s in statements if s.admits(principal)]


def topic_delivery_problems(
    resolved: ResolvedTemplate, topic_arn: str, principal: str, source_arn: str
) -> list[str]:
    """Why `principal` (on behalf of `source_arn`) could not publish to the topic, if it can't."""
    problems = []
    policy = resolved.resource_policy_statements("AWS::SNS::TopicPolicy", "Topics", topic_arn)
    publish = Permission(
        "sns:Publish",
        topic_arn,
        {"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT, **TLS},
    )
    # No topic policy at all means SNS's default one (the account's own principals only).
    if not is_allowed(admitted(policy, principal), publish):
        problems.append(f"{principal} may not publish to {topic_arn} for {source_arn}")
    for logical_id, topic in resolved.of_type("AWS::SNS::Topic"):
        key = topic["Properties"].get("KmsMasterKeyId")
        if key and resolved.ref(logical_id) == topic_arn:
            key_arn = str(resolved.resolve(key))
            statements = admitted(resolved.key_policy(key_arn), principal)
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                # The KMS request carries no SourceArn (DESIGN §7): an empty context.
                if not is_allowed(statements, Permission(action, key_arn)):
                    problems.append(f"{principal} may not {action} with {key_arn}")
    return problems


def queue_delivery_problems(
    resolved: ResolvedTemplate, queue_arn: str, principal: str, source_arn: str
) -> list[str]:
    queue_url = next(
        resolved.ref(logical_id)
        for logical_id, _ in resolved.of_type("AWS::SQS::Queue")
        if resolved.get_att(logical_id, "Arn") == queue_arn
    )
    policy = resolved.resource_policy_statements("AWS::SQS::QueuePolicy", "Queues", queue_url)
    send = Permission(
        "sqs:SendMessage",
        queue_arn,
        {"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT, **TLS},
    )
    if not is_allowed(admitted(policy, principal), send):
        return [f"{principal} may not send to {queue_arn} for {source_arn}"]
    return []


def alarm_actions(resolved: ResolvedTemplate) -> Iterator[tuple[str, str]]:
    for logical_id, alarm in resolved.of_type("AWS::CloudWatch::Alarm"):
        for action in alarm["Properties"].get("AlarmActions", []):
            yield resolved.get_att(logical_id, "Arn"), str(resolved.resolve(action))


def test_every_alarm_can_publish_to_its_topic(resolved: ResolvedTemplate):
    paths = list(alarm_actions(resolved))
    assert len(paths) >= 4  # DLQ depth, train errors, one predict-errors alarm per model
    problems = [
        problem
        for alarm_arn, topic_arn in paths
        for problem in topic_delivery_problems(
            resolved, topic_arn, "cloudwatch.amazonaws.com", alarm_arn
        )
    ]
    assert problems == []


def test_another_accounts_alarm_cannot_publish(resolved: ResolvedTemplate):
    (alarm_arn, topic_arn), *_ = alarm_actions(resolved)
    foreign = alarm_arn.replace(ACCOUNT, "999999999999")
    assert topic_delivery_problems(resolved, topic_arn, "cloudwatch.amazonaws.com", foreign)


def test_every_bucket_notification_can_reach_its_queue(resolved: ResolvedTemplate):
    paths = [
        (
            f"arn:aws:s3:::{resolved.resolve(props['BucketName'])}",
            str(resolved.resolve(queue["QueueArn"])),
        )
        for _, resource in resolved.of_type("Custom::S3BucketNotifications")
        for props in [resource["Properties"]]
        for queue in props["NotificationConfiguration"].get("QueueConfigurations", [])
    ]
    assert paths, "the data bucket notifies the training queue"
    problems = [
        problem
        for bucket_arn, queue_arn in paths
        for problem in queue_delivery_problems(resolved, queue_arn, "s3.amazonaws.com", bucket_arn)
    ]
    assert problems == []


def test_every_log_subscription_can_put_to_firehose(resolved: ResolvedTemplate):
    subscriptions = [
        props["Properties"] for _, props in resolved.of_type("AWS::Logs::SubscriptionFilter")
    ]
    assert subscriptions, "each predict function's log group feeds capture"
    for subscription in subscriptions:
        role_id = subscription["RoleArn"]["Fn::GetAtt"][0]
        trust = resolved.statements(resolved.properties(role_id)["AssumeRolePolicyDocument"])
        log_group = str(resolved.resolve(subscription["LogGroupName"]))
        source = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*"
        assume = Permission("sts:AssumeRole", "*", {"aws:SourceArn": source})
        logs_principals = ("logs.amazonaws.com", f"logs.{REGION}.amazonaws.com")
        assert any(is_allowed(admitted(trust, p), assume) for p in logs_principals), role_id
        stream = str(resolved.resolve(subscription["DestinationArn"]))
        statements = resolved.role_statements(role_id)
        for action in ("firehose:PutRecord", "firehose:PutRecordBatch"):
            assert is_allowed(statements, Permission(action, stream)), (role_id, action)


def test_firehose_can_write_the_capture_bucket(resolved: ResolvedTemplate):
    streams = [
        props["Properties"] for _, props in resolved.of_type("AWS::KinesisFirehose::DeliveryStream")
    ]
    assert streams
    for stream in streams:
        destination = (
            stream.get("ExtendedS3DestinationConfiguration") or stream["S3DestinationConfiguration"]
        )
        role_id = destination["RoleARN"]["Fn::GetAtt"][0]
        trust = resolved.statements(resolved.properties(role_id)["AssumeRolePolicyDocument"])
        # Firehose assumes its role with the account id as external id.
        assume = Permission("sts:AssumeRole", "*", {"sts:ExternalId": ACCOUNT})
        assert is_allowed(admitted(trust, "firehose.amazonaws.com"), assume)
        bucket_arn = str(resolved.resolve(destination["BucketARN"]))
        prefix = str(resolved.resolve(destination.get("Prefix", "")))
        key = f"{bucket_arn}/{prefix.split('!{', 1)[0]}2026/11/30/part-0000"
        assert is_allowed(resolved.role_statements(role_id), Permission("s3:PutObject", key)), key


def event_targets(resolved: ResolvedTemplate) -> Iterator[tuple[str, str]]:
    for logical_id, rule in resolved.of_type("AWS::Events::Rule"):
        for target in rule["Properties"].get("Targets", []):
            yield resolved.get_att(logical_id, "Arn"), str(resolved.resolve(target["Arn"]))
            # Where EventBridge puts an event it failed to deliver: it sends as the rule too.
            if "DeadLetterConfig" in target:
                dead_letter = str(resolved.resolve(target["DeadLetterConfig"]["Arn"]))
                yield resolved.get_att(logical_id, "Arn"), dead_letter


def test_every_eventbridge_target_accepts_its_rule(resolved: ResolvedTemplate):
    """No rule exists yet (the rollout and drift slices add them); the check runs on each."""
    problems: list[str] = []
    for rule_arn, target_arn in event_targets(resolved):
        if ":sqs:" in target_arn:
            problems += queue_delivery_problems(
                resolved, target_arn, "events.amazonaws.com", rule_arn
            )
        elif ":sns:" in target_arn:
            problems += topic_delivery_problems(
                resolved, target_arn, "events.amazonaws.com", rule_arn
            )
        else:
            problems.append(f"{rule_arn} -> {target_arn}: no delivery check for this target type")
    assert problems == []


def _synthetic(statements: list[dict[str, Any]]) -> ResolvedTemplate:
    """A template with one queue and its policy, to prove the queue check can fail."""
    return ResolvedTemplate(
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
                "Policy": {
                    "Type": "AWS::SQS::QueuePolicy",
                    "Properties": {
                        "Queues": [{"Ref": "Queue"}],
                        "PolicyDocument": {"Statement": statements},
                    },
                },
            }
        },
        account=ACCOUNT,
        region=REGION,
    )


def test_the_queue_check_refuses_a_rule_the_policy_does_not_name():
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/mine"
    allow_mine = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
    }
    template = _synthetic([allow_mine])
    assert queue_delivery_problems(template, queue_arn, "events.amazonaws.com", rule) == []
    other_rule = rule.replace("mine", "other")
    assert queue_delivery_problems(template, queue_arn, "events.amazonaws.com", other_rule)
    assert queue_delivery_problems(_synthetic([]), queue_arn, "events.amazonaws.com", rule)
