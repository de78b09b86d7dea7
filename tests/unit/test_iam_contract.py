"""The least-privilege contract's own logic (tests/iam): it must refuse what IAM refuses."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.resources import ResourceNames
from tests.iam.actions import Call, UnmappedCallError, Where, required_permissions
from tests.iam.contract import Contract
from tests.iam.policy import (
    Permission,
    Statement,
    UnsupportedPolicyError,
    is_allowed,
    wildcard_match,
)
from tests.iam.template import ResolvedTemplate

WHERE = Where("aws", "us-east-1", "123456789012")
NAMES = ResourceNames("mlops", "123456789012", "us-east-1")


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> Statement:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return Statement.from_json(statement)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:s3:::b/models/iris/*", "arn:aws:s3:::b/models/iris/v1/model.onnx", True),
        ("arn:aws:s3:::b/models/iris/*", "arn:aws:s3:::b/models/wine/v1/model.onnx", False),
        ("arn:aws:lambda:*:*:function:f:*", "arn:aws:lambda:r:1:function:f", False),
        ("arn:aws:lambda:*:*:function:f:*", "arn:aws:lambda:r:1:function:f:live", True),
        ("v?", "v1", True),
        ("v?", "v12", False),
    ],
)
def test_wildcards_follow_iam(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_actions_match_case_insensitively_with_wildcards() -> None:
    statements = [allow("s3:GetObject*", "*")]
    assert is_allowed(statements, Permission("s3:getobjectversion", "arn:aws:s3:::b/k"))
    assert not is_allowed(statements, Permission("s3:PutObject", "arn:aws:s3:::b/k"))


def test_a_matching_deny_wins_and_nothing_is_allowed_by_default() -> None:
    key = Permission("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"})
    deny = Statement.from_json(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    assert not is_allowed([allow("s3:GetObject", "*"), deny], key)
    assert not is_allowed([], key)


def test_a_condition_needs_its_key_in_the_request() -> None:
    listing = allow("s3:ListBucket", "arn:aws:s3:::b", {"StringLike": {"s3:prefix": ["models/*"]}})
    bucket = "arn:aws:s3:::b"
    assert is_allowed([listing], Permission("s3:ListBucket", bucket, {"s3:prefix": "models/x"}))
    assert not is_allowed([listing], Permission("s3:ListBucket", bucket, {"s3:prefix": "data/"}))
    assert not is_allowed([listing], Permission("s3:ListBucket", bucket))


def test_unmodelled_policy_elements_raise_instead_of_passing() -> None:
    with pytest.raises(UnsupportedPolicyError):
        Statement.from_json({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
    odd = allow("s3:GetObject", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})
    with pytest.raises(UnsupportedPolicyError):
        is_allowed([odd], Permission("s3:GetObject", "x", {"aws:CurrentTime": "2026"}))


def test_a_versioned_read_needs_get_object_version() -> None:
    plain = Call("s3", "GetObject", {"Bucket": "b", "Key": "k"})
    versioned = Call("s3", "HeadObject", {"Bucket": "b", "Key": "k", "VersionId": "v"})
    assert required_permissions(plain, WHERE) == [Permission("s3:GetObject", "arn:aws:s3:::b/k")]
    assert required_permissions(versioned, WHERE) == [
        Permission("s3:GetObjectVersion", "arn:aws:s3:::b/k")
    ]


def test_a_copy_needs_put_on_the_target_and_get_on_the_source() -> None:
    call = Call(
        "s3",
        "CopyObject",
        {"Bucket": "d", "Key": "t/x", "CopySource": {"Bucket": "d", "Key": "l/y"}},
    )
    assert required_permissions(call, WHERE) == [
        Permission("s3:PutObject", "arn:aws:s3:::d/t/x"),
        Permission("s3:GetObject", "arn:aws:s3:::d/l/y"),
    ]
    versioned = Call(
        "s3", "CopyObject", {"Bucket": "d", "Key": "t/x", "CopySource": "d/l/y?versionId=3"}
    )
    assert required_permissions(versioned, WHERE)[1] == Permission(
        "s3:GetObjectVersion", "arn:aws:s3:::d/l/y"
    )


def test_a_transaction_needs_each_item_s_action() -> None:
    call = Call(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]},
    )
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    assert required_permissions(call, WHERE) == [
        Permission("dynamodb:PutItem", table),
        Permission("dynamodb:ConditionCheckItem", table),
    ]


def test_an_unmapped_call_raises() -> None:
    with pytest.raises(UnmappedCallError, match=r"s3\.DeleteBucket"):
        required_permissions(Call("s3", "DeleteBucket", {"Bucket": "b"}), WHERE)
    with pytest.raises(UnmappedCallError, match="service iot"):
        required_permissions(Call("iot", "Publish", {}), WHERE)


def _template(predict_actions: list[str], key_actions: list[str]) -> ResolvedTemplate:
    """A predict function whose role reads artifacts and publishes to a KMS-encrypted topic."""
    policy = [
        {
            "Effect": "Allow",
            "Action": predict_actions,
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/models/iris/*"]]},
        },
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Topic"}},
    ]
    if key_actions:
        policy.append(
            {"Effect": "Allow", "Action": key_actions, "Resource": {"Fn::GetAtt": ["Key", "Arn"]}}
        )
    resources = {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Join": ["-", ["m", {"Ref": "AWS::AccountId"}]]}},
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": "t", "KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": policy}},
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "mlops-predict-iris",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Environment": {"Variables": {"MODEL_NAME": "iris"}},
            },
        },
    }
    return ResolvedTemplate({"Resources": resources}, account="123456789012", region="us-east-1")


READ_PINNED = Call(
    "s3",
    "GetObject",
    {"Bucket": "m-123456789012", "Key": "models/iris/v1/model.onnx", "VersionId": "x"},
)
PUBLISH = Call("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t"})
DATA_KEY = ["kms:GenerateDataKey", "kms:Decrypt"]


def test_the_contract_finds_the_missing_get_object_version() -> None:
    broken = Contract(_template(["s3:GetObject"], DATA_KEY), NAMES)
    fixed = Contract(_template(["s3:GetObject", "s3:GetObjectVersion"], DATA_KEY), NAMES)
    (problem,) = broken.violations("predict", "iris", READ_PINNED)
    assert "s3:GetObjectVersion on arn:aws:s3:::m-123456789012/models/iris/v1/model.onnx" in problem
    assert fixed.violations("predict", "iris", READ_PINNED) == []
    assert any(
        role == "Role" and action == "s3:GetObjectVersion" for role, _, action in fixed.exercised
    )


def test_publishing_to_an_encrypted_topic_needs_its_data_key() -> None:
    without_key = Contract(_template(["s3:GetObject"], []), NAMES)
    problems = without_key.violations("predict", "iris", PUBLISH)
    assert sorted(p.split("needs ")[1].split(" on ")[0] for p in problems) == DATA_KEY[::-1]
    assert (
        Contract(_template(["s3:GetObject"], DATA_KEY), NAMES).violations(
            "predict", "iris", PUBLISH
        )
        == []
    )


def test_a_function_the_contract_does_not_know_fails_loudly() -> None:
    contract = Contract(_template(["s3:GetObject"], DATA_KEY), NAMES)
    with pytest.raises(LookupError, match="add it to FUNCTIONS"):
        contract.violations("no_such_function", None, PUBLISH)
    with pytest.raises(LookupError, match="no function named mlops-predict-wine"):
        contract.violations("predict", "wine", PUBLISH)


def test_every_function_folder_is_in_the_contract() -> None:
    """A new functions/<folder>/handler.py cannot escape the contract by going unnamed."""
    from tests.iam.contract import FUNCTIONS
    from tests.iam.plugin import FUNCTIONS_DIR

    folders = {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")}
    assert folders == set(FUNCTIONS)
