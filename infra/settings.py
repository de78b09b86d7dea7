"""Deploy-time settings, read from CDK context in one place.

Everything that varies between environments arrives as context (`cdk.json` or `-c key=value`),
so the constructs never read `node.try_get_context` themselves and tests can pass plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from constructs import Node

ApiAuth = Literal["apiKey", "iam", "jwt"]
ApiFront = Literal["rest", "http"]

DEFAULT_PREFIX = "mlops"
DEFAULT_STACK_NAME = "ServerlessMlops"


@dataclass(frozen=True)
class StackSettings:
    """What one environment's stack is configured with.

    prefix: namespaces every physical name (`ResourceNames`); one per environment.
    alert_email: subscribed to the alerts topic when set; no subscription otherwise.
    code_version: recorded by the functions (lineage); CI passes the commit sha.
    api_auth: "apiKey" (API keys + usage plan) or "iam" (SigV4 on top of the API key) on the
        REST front; "iam" (the default there) or "jwt" on the HTTP front.
    api_front: "rest" (API Gateway REST API, the default) or "http" (an HTTP API: ~$1.00 per
        million requests instead of $3.50, without API keys, usage plans, request validation
        or WAF; README).
    jwt_issuer, jwt_audience: the JWT authorizer's issuer URL and accepted audiences
        (`-c jwtIssuer=https://... -c jwtAudience=a,b`), required with apiAuth=jwt.
    snap_start: SnapStart on the predict functions' published versions (`-c snapStart=true`).
    """

    prefix: str = DEFAULT_PREFIX
    alert_email: str | None = None
    code_version: str = "dev"
    api_auth: ApiAuth = "apiKey"
    api_front: ApiFront = "rest"
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    snap_start: bool = False

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """Read the settings from CDK context; raises ValueError on a value that cannot work."""
        prefix = str(node.try_get_context("prefix") or DEFAULT_PREFIX)
        alert_email = node.try_get_context("alertEmail") or None
        code_version = str(node.try_get_context("codeVersion") or "dev")
        api_front = str(node.try_get_context("api") or "rest")
        if api_front not in ("rest", "http"):
            raise ValueError(f"context api must be 'rest' or 'http', not '{api_front}'")
        default_auth = "iam" if api_front == "http" else "apiKey"
        api_auth = str(node.try_get_context("apiAuth") or default_auth)
        allowed = ("iam", "jwt") if api_front == "http" else ("apiKey", "iam")
        if api_auth not in allowed:
            reason = (
                " (an HTTP API has no API keys or usage plans)"
                if api_auth == "apiKey"
                else " (JWT authorizers exist on the HTTP API: add -c api=http)"
                if api_auth == "jwt"
                else ""
            )
            raise ValueError(
                f"context apiAuth must be one of {', '.join(repr(a) for a in allowed)} with "
                f"api={api_front}, not '{api_auth}'{reason}"
            )
        issuer = str(node.try_get_context("jwtIssuer") or "").strip() or None
        audience = tuple(
            part.strip()
            for part in str(node.try_get_context("jwtAudience") or "").split(",")
            if part.strip()
        )
        if api_auth == "jwt" and (issuer is None or not audience):
            missing = [n for n, v in (("jwtIssuer", issuer), ("jwtAudience", audience)) if not v]
            raise ValueError(
                f"apiAuth=jwt needs {' and '.join(missing)}: the token issuer's URL and the "
                "audience(s) it must carry, e.g. -c jwtIssuer=https://cognito-idp.<region>."
                "amazonaws.com/<pool-id> -c jwtAudience=<app-client-id>"
            )
        snap_start = str(node.try_get_context("snapStart") or "false").lower()
        if snap_start not in ("true", "false"):
            raise ValueError(f"context snapStart must be 'true' or 'false', not '{snap_start}'")
        return cls(
            prefix=prefix,
            alert_email=str(alert_email) if alert_email else None,
            code_version=code_version,
            api_auth="iam" if api_auth == "iam" else "jwt" if api_auth == "jwt" else "apiKey",
            api_front="http" if api_front == "http" else "rest",
            jwt_issuer=issuer,
            jwt_audience=audience,
            snap_start=snap_start == "true",
        )
