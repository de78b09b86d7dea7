"""The "ensure serving" step: make alias `live` serve the model's production version.

DESIGN §7: the alias is never a CloudFormation resource. This step publishes a version of the
model's predict function whose environment pins MODEL_VERSION, then creates or moves `live`
to it. It is idempotent (a published version with the same code and the same pin is reused),
so it can run from a custom resource at deploy time, from `mlops promote`, and later from the
rollout reconciler, and converge whatever state it finds. With no production model it pins
version 0, which answers 503 `no_production_model`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mlops.registry import RegistryStore
from mlops.resources import LIVE_ALIAS

logger = logging.getLogger(__name__)
PIN_VARIABLE = "MODEL_VERSION"


@dataclass(frozen=True)
class ServingState:
    function_name: str
    function_version: str
    model_version: int
    changed: bool


def _published_version_for(
    lambda_client: Any, function_name: str, code_sha: str, model_version: int
) -> str | None:
    paginator = lambda_client.get_paginator("list_versions_by_function")
    for page in paginator.paginate(FunctionName=function_name):
        for version in page["Versions"]:
            if version["Version"] == "$LATEST" or version.get("CodeSha256") != code_sha:
                continue
            variables = version.get("Environment", {}).get("Variables", {})
            if variables.get(PIN_VARIABLE) == str(model_version):
                return str(version["Version"])
    return None


def publish_pinned_version(lambda_client: Any, function_name: str, model_version: int) -> str:
    """A published function version whose environment pins `model_version` (reused if one
    with the same code and pin exists)."""
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    existing = _published_version_for(
        lambda_client, function_name, latest["CodeSha256"], model_version
    )
    if existing:
        return existing
    variables = dict(latest.get("Environment", {}).get("Variables", {}))
    variables[PIN_VARIABLE] = str(model_version)
    lambda_client.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
    published = lambda_client.publish_version(
        FunctionName=function_name, Description=f"model v{model_version}"
    )
    return str(published["Version"])


def point_alias(lambda_client: Any, function_name: str, function_version: str) -> bool:
    """Create `live` or move it to `function_version` with no canary routing; True if moved."""
    try:
        alias = lambda_client.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    except lambda_client.exceptions.ResourceNotFoundException:
        lambda_client.create_alias(
            FunctionName=function_name, Name=LIVE_ALIAS, FunctionVersion=function_version
        )
        return True
    routing = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
    if alias["FunctionVersion"] == function_version and not routing:
        return False
    lambda_client.update_alias(
        FunctionName=function_name,
        Name=LIVE_ALIAS,
        FunctionVersion=function_version,
        RoutingConfig={"AdditionalVersionWeights": {}},
        RevisionId=alias["RevisionId"],
    )
    return True


def ensure_serving(
    lambda_client: Any, registry: RegistryStore, function_name: str, model: str
) -> ServingState:
    """Make `live` serve the registry's production version of `model` (or 0 if none)."""
    production = registry.get_pointers(model).production or 0
    function_version = publish_pinned_version(lambda_client, function_name, production)
    changed = point_alias(lambda_client, function_name, function_version)
    logger.info(
        "serving %s v%s through %s:%s (version %s)%s",
        model,
        production,
        function_name,
        LIVE_ALIAS,
        function_version,
        " (moved)" if changed else "",
    )
    return ServingState(function_name, function_version, production, changed)
