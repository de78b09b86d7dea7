"""A synthesized template with its intrinsics resolved for one account and region.

`Ref` and `Fn::GetAtt` resolve to the values AWS would give (bucket name, table ARN, topic ARN,
queue URL, ...) from the resources' own physical names, so the policies compare with the ARNs
of the calls the handlers really make against moto, under the same names (`ResourceNames`).
A resource without a physical name resolves to a stable stand-in built from its logical id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tests.iam.policy import Statement, UnsupportedPolicyError

PSEUDO_PARAMETERS = ("AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix")


@dataclass(frozen=True)
class ResolvedTemplate:
    """The template plus what a `Ref`/`Fn::GetAtt` means in `account`/`region`."""

    template: Mapping[str, Any]
    account: str
    region: str
    partition: str = "aws"

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        properties: Mapping[str, Any] = self.resources[logical_id].get("Properties", {})
        return properties

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by the string it stands for."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(str(argument))
            if name == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else str(argument).split(".", 1)
                )
                return self.get_att(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(part)) for part in parts)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(str(separator))
            if name.startswith("Fn::"):
                raise UnsupportedPolicyError(f"{name} is not resolved by this contract test")
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::SNS::Topic":
            return self.get_att(name, "TopicArn")
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(name)}"
        return self.name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        name = self.name(logical_id)
        arn = f"arn:{self.partition}"
        regional = f"{self.region}:{self.account}"
        arns = {
            "AWS::S3::Bucket": f"{arn}:s3:::{name}",
            "AWS::DynamoDB::Table": f"{arn}:dynamodb:{regional}:table/{name}",
            "AWS::SNS::Topic": f"{arn}:sns:{regional}:{name}",
            "AWS::SQS::Queue": f"{arn}:sqs:{regional}:{name}",
            "AWS::Lambda::Function": f"{arn}:lambda:{regional}:function:{name}",
            "AWS::KMS::Key": f"{arn}:kms:{regional}:key/{name}",
            "AWS::IAM::Role": f"{arn}:iam::{self.account}:role/{name}",
            "AWS::KinesisFirehose::DeliveryStream": (
                f"{arn}:firehose:{regional}:deliverystream/{name}"
            ),
            "AWS::Logs::LogGroup": f"{arn}:logs:{regional}:log-group:{name}:*",
            "AWS::CloudWatch::Alarm": f"{arn}:cloudwatch:{regional}:alarm:{name}",
            "AWS::Events::Rule": f"{arn}:events:{regional}:rule/{name}",
        }
        if attribute in ("Arn", "TopicArn") and resource_type in arns:
            return arns[resource_type]
        return f"{logical_id}.{attribute}"

    def name(self, logical_id: str) -> str:
        """The resource's physical name, or its logical id where CloudFormation names it."""
        properties = self.properties(logical_id)
        for key in NAME_PROPERTIES:
            if key in properties:
                return str(self.resolve(properties[key]))
        return logical_id

    def statements(self, document: Mapping[str, Any]) -> list[Statement]:
        """A policy document's statements, resolved."""
        return [Statement.from_json(self.resolve(s)) for s in document["Statement"]]

    def role_statements(self, role_id: str) -> list[Statement]:
        """Every identity-policy statement of a role: inline and attached AWS::IAM::Policy."""
        found: list[Statement] = []
        for policy in self.properties(role_id).get("Policies", []):
            found.extend(self.statements(policy["PolicyDocument"]))
        for _, policy in self.of_type("AWS::IAM::Policy"):
            if {"Ref": role_id} in policy["Properties"].get("Roles", []):
                found.extend(self.statements(policy["Properties"]["PolicyDocument"]))
        return found

    def function_role(self, function_name: str) -> str:
        """The logical id of the role of the function with this physical name."""
        for logical_id, _ in self.of_type("AWS::Lambda::Function"):
            if self.name(logical_id) == function_name:
                role = self.properties(logical_id)["Role"]
                return str(role["Fn::GetAtt"][0])
        raise LookupError(f"the template has no function named {function_name}")

    def resource_policy_statements(
        self, policy_type: str, target_key: str, target: str
    ) -> list[Statement]:
        """Statements of the resource policies (`AWS::SNS::TopicPolicy`, ...) that cover `target`
        (a resolved topic ARN, queue URL, ...) through their `target_key` list."""
        found: list[Statement] = []
        for _, policy in self.of_type(policy_type):
            covered = [self.resolve(item) for item in policy["Properties"][target_key]]
            if target in covered:
                found.extend(self.statements(policy["Properties"]["PolicyDocument"]))
        return found

    def key_policy(self, key_arn: str) -> list[Statement]:
        for logical_id, key in self.of_type("AWS::KMS::Key"):
            if self.get_att(logical_id, "Arn") == key_arn:
                return self.statements(key["Properties"]["KeyPolicy"])
        raise LookupError(f"the template has no key {key_arn}")


NAME_PROPERTIES = (
    "BucketName",
    "TableName",
    "TopicName",
    "QueueName",
    "FunctionName",
    "RoleName",
    "DeliveryStreamName",
    "LogGroupName",
    "AlarmName",
    "Name",
)
