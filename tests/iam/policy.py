"""IAM policy evaluation, the subset our templates use, conservatively.

Allow needs a matching Allow statement (action and resource wildcards, every condition met by
the request context); any matching Deny wins. A condition key missing from the context fails
its condition (IAM's rule for operators without `IfExists`). Statement elements this evaluator
does not understand raise instead of being skipped, so it can only err on the side of "denied".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any


class UnsupportedPolicyError(ValueError):
    """A statement uses an element or operator this evaluator does not model."""


@dataclass(frozen=True)
class Permission:
    """What AWS authorizes for one request: an action on a resource, with its context keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{where}"


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement (strings only; intrinsics already resolved)."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    principals: tuple[str, ...] = ()
    sid: str = ""

    @classmethod
    def from_json(cls, statement: Mapping[str, Any]) -> Statement:
        unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        if unsupported:
            raise UnsupportedPolicyError(f"statement uses {sorted(unsupported)}: {statement}")
        principal = statement.get("Principal", {})
        principals: list[str] = []
        if principal == "*":
            principals.append("*")
        elif isinstance(principal, Mapping):
            for values in principal.values():
                principals.extend(_strings(values))
        conditions = {
            operator: {key: tuple(_strings(value)) for key, value in keys.items()}
            for operator, keys in statement.get("Condition", {}).items()
        }
        return cls(
            effect=str(statement["Effect"]),
            actions=tuple(_strings(statement.get("Action", []))),
            resources=tuple(_strings(statement.get("Resource", "*"))),
            conditions=conditions,
            principals=tuple(principals),
            sid=str(statement.get("Sid", "")),
        )

    def applies_to(self, permission: Permission) -> bool:
        """Action, resource and every condition match the request."""
        return (
            any(wildcard_match(pattern, permission.action, case=False) for pattern in self.actions)
            and any(wildcard_match(pattern, permission.resource) for pattern in self.resources)
            and all(
                _condition_holds(operator, key, values, permission.context)
                for operator, keys in self.conditions.items()
                for key, values in keys.items()
            )
        )

    @property
    def label(self) -> str:
        """Names the statement in reports: its Sid, else the resources it covers."""
        return f"{self.sid or '-'} {','.join(self.resources)}"

    def admits(self, principal: str) -> bool:
        """A resource policy statement names `principal` (or everyone)."""
        return "*" in self.principals or principal in self.principals


def is_allowed(statements: Iterable[Statement], permission: Permission) -> bool:
    """IAM's answer for one identity: an Allow applies and no Deny does."""
    statements = list(statements)
    if any(s.effect == "Deny" and s.applies_to(permission) for s in statements):
        return False
    return any(s.effect == "Allow" and s.applies_to(permission) for s in statements)


def wildcard_match(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM wildcards: `*` any run of characters (`/` and `:` included), `?` one character."""
    return _compiled(pattern, case).fullmatch(value) is not None


@cache
def _compiled(pattern: str, case: bool) -> re.Pattern[str]:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(regex, 0 if case else re.IGNORECASE)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise UnsupportedPolicyError(f"expected a string or a list of strings, got {value!r}")


def _condition_holds(
    operator: str, key: str, values: tuple[str, ...], context: Mapping[str, str]
) -> bool:
    actual = context.get(key)
    if actual is None:
        return False
    if operator in ("StringEquals", "ArnEquals"):
        return actual in values
    if operator in ("StringLike", "ArnLike"):
        return any(wildcard_match(value, actual) for value in values)
    if operator == "StringNotEquals":
        return actual not in values
    if operator == "Bool":
        return actual.lower() in (value.lower() for value in values)
    raise UnsupportedPolicyError(f"condition operator {operator} is not modelled")
