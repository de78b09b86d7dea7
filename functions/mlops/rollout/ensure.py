"""The "ensure serving" step: make alias `live` serve the model's production version.

DESIGN §7: the alias is never a CloudFormation resource. This step publishes a version of the
model's predict function whose environment pins MODEL_VERSION, then creates or moves `live`
to it. It is idempotent (a published version with the same code and the same pin is reused),
so it can run from a custom resource at deploy time, from `mlops promote`, and later from the
rollout reconciler, and converge whatever state it finds. With no production model it pins
version 0, which answers 503 `no_production_model`.
"""

from __future__ import annotations

import hashlib
import json
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


def code_fingerprint(configuration: dict[str, Any]) -> str:
    """What a version runs apart from its model pin: code, handler, memory, timeout, layers and
    the environment without MODEL_VERSION.

    Publishing a pinned version writes MODEL_VERSION into `$LATEST`'s environment (drift the
    next deploy resets to 0); leaving the pin out is what keeps the reconciler from taking that
    for new code, while any real change (code or configuration) changes the fingerprint."""
    variables = dict(configuration.get("Environment", {}).get("Variables", {}))
    variables.pop(PIN_VARIABLE, None)
    described = {
        "code": configuration.get("CodeSha256"),
        "handler": configuration.get("Handler"),
        "memory": configuration.get("MemorySize"),
        "timeout": configuration.get("Timeout"),
        "layers": sorted(layer.get("Arn", "") for layer in configuration.get("Layers") or []),
        "environment": variables,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def pinned_model(configuration: dict[str, Any]) -> int:
    """The model version a function version's environment pins (0: none)."""
    return int(configuration.get("Environment", {}).get("Variables", {}).get(PIN_VARIABLE, 0))


def _published_version_for(
    lambda_client: Any, function_name: str, fingerprint: str, model_version: int
) -> str | None:
    paginator = lambda_client.get_paginator("list_versions_by_function")
    for page in paginator.paginate(FunctionName=function_name):
        for version in page["Versions"]:
            if version["Version"] == "$LATEST" or code_fingerprint(version) != fingerprint:
                continue
            if pinned_model(version) == model_version:
                return str(version["Version"])
    return None


def publish_pinned_version(lambda_client: Any, function_name: str, model_version: int) -> str:
    """A published function version running `$LATEST`'s code and configuration whose
    environment pins `model_version` (reused if one with the same fingerprint and pin
    exists, so a retry after a crash publishes nothing new)."""
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    existing = _published_version_for(
        lambda_client, function_name, code_fingerprint(latest), model_version
    )
    if existing:
        version = existing
    else:
        if pinned_model(latest) != model_version:  # already pinned: a retry after a crash
            variables = dict(latest.get("Environment", {}).get("Variables", {}))
            variables[PIN_VARIABLE] = str(model_version)
            lambda_client.update_function_configuration(
                FunctionName=function_name, Environment={"Variables": variables}
            )
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function_name)
        published = lambda_client.publish_version(
            FunctionName=function_name, Description=f"model v{model_version}"
        )
        version = str(published["Version"])
    # With SnapStart a new version stays Pending while Lambda runs its init and takes the
    # snapshot, and cannot be invoked: wait (a reused version too: a retry may find it still
    # Pending) before anyone routes traffic to it. Without SnapStart the first poll returns.
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier=version
    )
    return version


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


def route_alias(
    lambda_client: Any, function_name: str, primary: str, weights: dict[str, float]
) -> bool:
    """Make `live` route to `primary` plus `weights` (version -> share); True if it moved.

    Reads first and writes only on a difference, so re-running it is free and a crash after
    the write converges on the next run."""
    try:
        alias = lambda_client.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
    except lambda_client.exceptions.ResourceNotFoundException:
        lambda_client.create_alias(
            FunctionName=function_name,
            Name=LIVE_ALIAS,
            FunctionVersion=primary,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
        return True
    routing = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
    same_weights = {k: round(float(v), 6) for k, v in routing.items()} == {
        k: round(float(v), 6) for k, v in weights.items()
    }
    if alias["FunctionVersion"] == primary and same_weights:
        return False
    lambda_client.update_alias(
        FunctionName=function_name,
        Name=LIVE_ALIAS,
        FunctionVersion=primary,
        RoutingConfig={"AdditionalVersionWeights": weights},
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
