"""Where the CLI's commands go: a deployed stack (by its outputs) or the running local stack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlops.clients import client
from mlops.local.provision import local_names
from mlops.local.stack import LocalState, state_dir, use_local_endpoint
from mlops.resources import ResourceNames


class TargetError(RuntimeError):
    """Neither a running local stack nor a deployed stack could be found."""


@dataclass(frozen=True)
class Target:
    kind: str  # "local" or "aws"
    data_bucket: str
    model_bucket: str
    registry_table: str
    api_url: str
    api_key: str
    names: ResourceNames | None
    predict_functions: dict[str, str]

    def predict_function(self, model: str) -> str:
        if model in self.predict_functions:
            return self.predict_functions[model]
        if self.names is not None:
            return self.names.predict_function(model)
        raise TargetError(f"the stack has no predict function for '{model}'")


def resolve_target(stack: str | None) -> Target:
    """`--stack NAME` (or $MLOPS_STACK) -> the deployed stack; else the local stack."""
    stack = stack or os.environ.get("MLOPS_STACK")
    if stack:
        return _deployed(stack)
    state = _find_local_state()
    if state is None:
        raise TargetError(
            "no local stack is running (start `mlops local` in another terminal) "
            "and no --stack was given"
        )
    if not _process_alive(state.pid):
        raise TargetError(
            f"the local stack (pid {state.pid}) is no longer running; start `mlops local` again"
        )
    use_local_endpoint(state.endpoint_url, state.region)
    names = local_names(state.prefix)
    return Target(
        "local",
        names.data_bucket,
        names.model_bucket,
        names.registry_table,
        state.api_url,
        state.api_key,
        names,
        {},
    )


def _find_local_state() -> LocalState | None:
    """`$MLOPS_HOME/local.json`, else `.mlops/local.json` here or in a parent folder (so the
    CLI finds the stack from anywhere inside the project)."""
    if os.environ.get("MLOPS_HOME"):
        return LocalState.load(state_dir())
    for folder in (Path.cwd(), *Path.cwd().parents):
        state = LocalState.load(folder / ".mlops")
        if state is not None:
            return state
    return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _deployed(stack: str) -> Target:
    described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    try:
        api_key = client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)[
            "value"
        ]
        # Output keys are alphanumeric (a model named "churn-v2" becomes PredictFunctionChurnv2);
        # the function name itself ends in "-predict-<model>", so read the model from it.
        functions = {
            value.split("-predict-", 1)[1]: value
            for key, value in outputs.items()
            if key.startswith("PredictFunction") and "-predict-" in value
        }
        return Target(
            "aws",
            outputs["DataBucketName"],
            outputs["ModelBucketName"],
            outputs["RegistryTableName"],
            outputs["ApiUrl"].rstrip("/"),
            api_key,
            None,
            functions,
        )
    except KeyError as error:
        raise TargetError(
            f"stack {stack} has no output {error}; is it a serverless-mlops stack?"
        ) from error
