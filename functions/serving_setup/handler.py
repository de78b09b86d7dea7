"""CloudFormation custom resource (Provider framework): run "ensure serving" once, at create.

Create: publish a pinned version and create alias `live` (serving the registry's production
version, or version 0 which answers 503 until a model is promoted). Update and Delete do
nothing on purpose: re-running `cdk deploy` must never change which model version serves or
drop a canary in flight; after creation the alias belongs to the rollout code.

One exception: an Update whose `FunctionName` changed (a new prefix replaces the predict
function) is a create for the new function, which has no alias yet; without one the API's
permission on `...:live` fails the deploy. The new physical id makes CloudFormation send a
Delete for the old one, which stays a no-op.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.clients import client
from mlops.registry import RegistryStore
from mlops.rollout import ensure_serving

logger = Logger(service="serving-setup")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    function_name, model = properties["FunctionName"], properties["ModelName"]
    physical_id = f"{function_name}:live"
    if not _serves_a_new_function(event):
        logger.info(
            "no-op: the alias belongs to the rollout code after creation",
            extra={"request_type": event["RequestType"], "function": function_name},
        )
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or physical_id}
    registry = RegistryStore(client("dynamodb"), os.environ["REGISTRY_TABLE"])
    state = ensure_serving(client("lambda"), registry, function_name, model)
    return {
        "PhysicalResourceId": physical_id,
        "Data": {
            "FunctionVersion": state.function_version,
            "ModelVersion": str(state.model_version),
        },
    }


def _serves_a_new_function(event: dict[str, Any]) -> bool:
    """Create, or an Update that points the resource at another (new) predict function."""
    if event["RequestType"] == "Create":
        return True
    if event["RequestType"] != "Update":
        return False
    old = event.get("OldResourceProperties", {}).get("FunctionName")
    return bool(old != event["ResourceProperties"]["FunctionName"])
