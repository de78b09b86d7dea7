"""Deploy-time settings, read from CDK context in one place.

Everything that varies between environments arrives as context (`cdk.json` or `-c key=value`),
so the constructs never read `node.try_get_context` themselves and tests can pass plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from constructs import Node

ApiAuth = Literal["apiKey", "iam", "jwt"]
ApiFront = Literal["rest", "http"]
Stage = Literal["dev", "prod"]

DEFAULT_PREFIX = "mlops"
DEFAULT_STACK_NAME = "ServerlessMlops"
# A bare `cdk deploy` goes to dev: reaching prod takes an explicit `-c stage=prod`.
DEFAULT_STAGE: Stage = "dev"
# The prefix starts S3 bucket names (lower case only) and `<prefix>-predict-<model>` (Lambda
# allows 64 characters, a model name up to 40): 15 characters of [a-z0-9-] always fit.
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,14}")
STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


class SettingsError(ValueError):
    """A context value that cannot work; infra/app.py prints the message instead of a trace."""


@dataclass(frozen=True)
class StageProfile:
    """What differs between stages, and only that (names differ through the prefix).

    log_retention_days: every log group's, one of CloudWatch Logs' allowed values (dev's logs are
        noise after a week; prod's are the evidence when a rollback or a drift alert is looked
        into weeks later).
    alert_email_required: prod refuses to synthesize without `alertEmail`: its alarms and drift
        alerts would otherwise reach nobody.
    capture_retention_days: how long captured traffic, its compacted Parquet and the drift
        reports are kept (S3 lifecycle): a drift window needs days, an audit of what a model
        answered needs about a year in prod; dev's traffic is test traffic.
    """

    log_retention_days: int
    alert_email_required: bool
    capture_retention_days: int = 400


STAGE_PROFILES: dict[Stage, StageProfile] = {
    "dev": StageProfile(
        log_retention_days=7, alert_email_required=False, capture_retention_days=30
    ),
    "prod": StageProfile(
        log_retention_days=90, alert_email_required=True, capture_retention_days=400
    ),
}


def stage_prefix(stage: Stage) -> str:
    """The default prefix of a stage (`mlops-dev`): distinct stages, distinct physical names."""
    return f"{DEFAULT_PREFIX}-{stage}"


def stage_stack_name(stage: Stage) -> str:
    """The default stack name of a stage (`ServerlessMlops-dev`)."""
    return f"{DEFAULT_STACK_NAME}-{stage}"


@dataclass(frozen=True)
class StackSettings:
    """What one environment's stack is configured with.

    stage: "dev" or "prod" (`-c stage=...`); the defaults of `prefix` and `stack_name` derive
        from it, so two stages in one account and region never share a physical name.
    prefix: namespaces every physical name (`ResourceNames`); one per environment.
    stack_name: the CloudFormation stack's name.
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

    prefix: str = stage_prefix(DEFAULT_STAGE)
    alert_email: str | None = None
    code_version: str = "dev"
    api_auth: ApiAuth = "apiKey"
    stage: Stage = DEFAULT_STAGE
    stack_name: str = stage_stack_name(DEFAULT_STAGE)
    api_front: ApiFront = "rest"
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    snap_start: bool = False

    @property
    def profile(self) -> StageProfile:
        return STAGE_PROFILES[self.stage]

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """Read the settings from CDK context; raises SettingsError (a ValueError) on a value
        that cannot work."""
        stage = _stage(node.try_get_context("stage"))
        prefix = str(node.try_get_context("prefix") or stage_prefix(stage))
        stack_name = str(node.try_get_context("stackName") or stage_stack_name(stage))
        alert_email = node.try_get_context("alertEmail") or None
        code_version = str(node.try_get_context("codeVersion") or "dev")
        api_front = str(node.try_get_context("api") or "rest")
        if api_front not in ("rest", "http"):
            raise SettingsError(f"context api must be 'rest' or 'http', not '{api_front}'")
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
            raise SettingsError(
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
            raise SettingsError(
                f"apiAuth=jwt needs {' and '.join(missing)}: the token issuer's URL and the "
                "audience(s) it must carry, e.g. -c jwtIssuer=https://cognito-idp.<region>."
                "amazonaws.com/<pool-id> -c jwtAudience=<app-client-id>"
            )
        snap_start = str(node.try_get_context("snapStart") or "false").lower()
        if snap_start not in ("true", "false"):
            raise SettingsError(f"context snapStart must be 'true' or 'false', not '{snap_start}'")
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise SettingsError(
                f"context prefix '{prefix}' must be 1-15 characters of a-z, 0-9 and '-', "
                "starting with a letter (it starts bucket and function names)"
            )
        if not STACK_NAME_PATTERN.fullmatch(stack_name):
            raise SettingsError(
                f"context stackName '{stack_name}' must start with a letter and hold only "
                "letters, digits and '-' (CloudFormation's rule)"
            )
        if STAGE_PROFILES[stage].alert_email_required and not alert_email:
            raise SettingsError(
                f"stage {stage} needs -c alertEmail=ADDRESS: its alarms and drift alerts "
                "must reach someone"
            )
        return cls(
            prefix=prefix,
            alert_email=str(alert_email) if alert_email else None,
            code_version=code_version,
            api_auth="iam" if api_auth == "iam" else "jwt" if api_auth == "jwt" else "apiKey",
            api_front="http" if api_front == "http" else "rest",
            jwt_issuer=issuer,
            jwt_audience=audience,
            snap_start=snap_start == "true",
            stage=stage,
            stack_name=stack_name,
        )


def _stage(value: object) -> Stage:
    """`-c stage=...` (default dev); anything but a known stage is refused, never guessed."""
    if value is None or value == "":
        return DEFAULT_STAGE
    for stage in STAGE_PROFILES:
        if value == stage:
            return stage
    known = ", ".join(STAGE_PROFILES)
    raise SettingsError(f"context stage must be one of {known}, not '{value}'")
