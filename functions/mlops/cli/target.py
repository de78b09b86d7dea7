"""Where the CLI's commands go: a deployed stack (by its outputs) or the running local stack."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlops.clients import client
from mlops.local.provision import local_names
from mlops.local.stack import (
    LocalState,
    answers,
    process_alive,
    running_stacks,
    state_dir,
    use_local_endpoint,
)
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
    specs_dir: Path | None = None  # the folder the local stack reads specs from

    def declared_models(self) -> set[str] | None:
        """The models this stack serves (None: cannot tell): the local stack's spec files, a
        deployed stack's predict functions. Commands check a name here before acting on it."""
        if self.kind == "aws":
            return set(self.predict_functions)
        if self.specs_dir is None or not self.specs_dir.is_dir():
            return None
        return {path.stem for path in self.specs_dir.glob("*.toml")}

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
    where = state.folder or "the state folder"
    if not process_alive(state.pid):
        raise TargetError(
            f"the local stack (pid {state.pid}) recorded in {where} is no longer running; "
            "start `mlops local` again"
        )
    if not (answers(state.endpoint_url) and answers(state.api_url)):
        raise TargetError(
            f"the local stack recorded in {where} (pid {state.pid}) does not answer at "
            f"{state.endpoint_url} and {state.api_url}: it is still starting, or the file is "
            "stale (that pid now belongs to another process). Wait a few seconds, or start "
            "`mlops local` again"
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
        Path(state.specs_dir) if state.specs_dir else None,
    )


def _find_local_state() -> LocalState | None:
    """`$MLOPS_HOME/local.json`, else `.mlops/local.json` here or in a parent folder (so the
    CLI finds the stack from anywhere inside the project), else the one stack registered as
    running on this machine (so it is found from outside the project too)."""
    if os.environ.get("MLOPS_HOME"):
        return LocalState.load(state_dir())
    for folder in (Path.cwd(), *Path.cwd().parents):
        state = LocalState.load(folder / ".mlops")
        if state is not None:
            return state
    running = running_stacks()
    if len(running) > 1:
        folders = ", ".join(state.folder for state in running)
        raise TargetError(
            f"{len(running)} local stacks are running ({folders}); run the command inside "
            "one's project folder or set MLOPS_HOME to its state folder"
        )
    return running[0] if running else None


def _deployed(stack: str) -> Target:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        raise TargetError(
            f"cannot read stack {stack}: {error.response.get('Error', {}).get('Message', error)}"
            " (is it deployed, in this account and region?)"
        ) from error
    except BotoCoreError as error:
        raise TargetError(f"cannot call AWS for stack {stack}: {error}") from error
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
