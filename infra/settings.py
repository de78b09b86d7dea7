"""Deploy-time settings, read from CDK context in one place.

Everything that varies between environments arrives as context (`cdk.json` or `-c key=value`),
so the constructs never read `node.try_get_context` themselves and tests can pass plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from constructs import Node

ApiAuth = Literal["apiKey", "iam"]

DEFAULT_PREFIX = "mlops"
DEFAULT_STACK_NAME = "ServerlessMlops"


@dataclass(frozen=True)
class StackSettings:
    """What one environment's stack is configured with.

    prefix: namespaces every physical name (`ResourceNames`); one per environment.
    alert_email: subscribed to the alerts topic when set; no subscription otherwise.
    code_version: recorded by the functions (lineage); CI passes the commit sha.
    api_auth: "apiKey" (API keys + usage plan) or "iam" (SigV4 on top of the API key).
    """

    prefix: str = DEFAULT_PREFIX
    alert_email: str | None = None
    code_version: str = "dev"
    api_auth: ApiAuth = "apiKey"

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """Read the settings from CDK context; raises ValueError on a value that cannot work."""
        prefix = str(node.try_get_context("prefix") or DEFAULT_PREFIX)
        alert_email = node.try_get_context("alertEmail") or None
        code_version = str(node.try_get_context("codeVersion") or "dev")
        api_auth = str(node.try_get_context("apiAuth") or "apiKey")
        if api_auth not in ("apiKey", "iam"):
            raise ValueError(f"context apiAuth must be 'apiKey' or 'iam', not '{api_auth}'")
        return cls(
            prefix=prefix,
            alert_email=str(alert_email) if alert_email else None,
            code_version=code_version,
            api_auth="iam" if api_auth == "iam" else "apiKey",
        )
