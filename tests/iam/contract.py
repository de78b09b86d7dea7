"""The contract: each function's role in the synthesized template allows every call it makes.

`FUNCTIONS` names, for each `functions/<folder>/handler.py`, the physical function whose role
answers for its calls. A new function must be added there: until it is, its first recorded call
fails with a message saying so, so no function escapes the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlops.resources import ResourceNames
from tests.iam.actions import Call, Where, required_permissions
from tests.iam.policy import Permission, Statement, is_allowed
from tests.iam.template import ResolvedTemplate

FUNCTIONS: dict[str, Callable[[ResourceNames, str | None], str]] = {
    "train": lambda names, _model: names.train_function,
    "serving_setup": lambda names, _model: names.serving_setup_function,
    "rollout": lambda names, _model: names.rollout_function,
    "predict": lambda names, model: names.predict_function(model or "<MODEL_NAME unset>"),
    "drift": lambda names, _model: names.drift_function,
}


@dataclass
class Contract:
    """Checks calls against the template and remembers which grants were exercised."""

    template: ResolvedTemplate
    names: ResourceNames
    exercised: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def where(self) -> Where:
        return Where(self.template.partition, self.template.region, self.template.account)

    def role_of(self, function: str, model: str | None) -> str:
        if function not in FUNCTIONS:
            raise LookupError(
                f"functions/{function}/handler.py made AWS calls but tests/iam/contract.py does "
                "not know its deployed function: add it to FUNCTIONS"
            )
        return self.template.function_role(FUNCTIONS[function](self.names, model))

    def violations(self, function: str, model: str | None, call: Call) -> list[str]:
        """What `call` needs that the function's role does not allow (empty: all allowed)."""
        role = self.role_of(function, model)
        statements = self.template.role_statements(role)
        problems = []
        for permission in self.implied(required_permissions(call, self.where)):
            if is_allowed(statements, permission):
                self._mark(role, statements, permission)
            else:
                problems.append(f"{function} ({role}) calls {call}: needs {permission}")
        return problems

    def implied(self, permissions: list[Permission]) -> list[Permission]:
        """Add what AWS checks on the caller besides the action itself: publishing to a topic
        encrypted with a customer-managed key needs that key's data key."""
        found = list(permissions)
        for permission in permissions:
            if permission.action != "sns:Publish":
                continue
            for logical_id, topic in self.template.of_type("AWS::SNS::Topic"):
                key = topic["Properties"].get("KmsMasterKeyId")
                if key and self.template.ref(logical_id) == permission.resource:
                    key_arn = str(self.template.resolve(key))
                    found += [
                        Permission("kms:GenerateDataKey", key_arn),
                        Permission("kms:Decrypt", key_arn),
                    ]
        return found

    def _mark(self, role: str, statements: list[Statement], permission: Permission) -> None:
        for statement in statements:
            if statement.effect == "Allow" and statement.applies_to(permission):
                for action in statement.actions:
                    if Statement(
                        "Allow", (action,), statement.resources, statement.conditions
                    ).applies_to(permission):
                        self.exercised.add((role, statement.label, action))

    def grants(self) -> list[tuple[str, str, str]]:
        """Every (role, statement label, action) the functions' roles hold."""
        found = []
        for function in FUNCTIONS:
            models = [None] if function != "predict" else sorted(self.models())
            for model in models:
                role = self.role_of(function, model)
                for statement in self.template.role_statements(role):
                    if statement.effect == "Allow":
                        found += [(role, statement.label, action) for action in statement.actions]
        return sorted(set(found))

    def models(self) -> set[str]:
        """Models with a predict function in the template (their MODEL_NAME)."""
        found = set()
        for logical_id, _ in self.template.of_type("AWS::Lambda::Function"):
            variables = (
                self.template.properties(logical_id).get("Environment", {}).get("Variables", {})
            )
            if "MODEL_NAME" in variables:
                found.add(str(variables["MODEL_NAME"]))
        return found
