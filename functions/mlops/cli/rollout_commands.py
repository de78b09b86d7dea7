"""`mlops status`, `mlops promote`, `mlops rollback`: the reconciler's own code, run from here.

A manual promote or rollback is a transition of mlops.rollout.reconciler (the same conditional
registry write the schedule makes, then the same convergence of alias `live`), so it can
neither race the reconciler into two canaries nor skip the record and the alert.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlops.cli.target import Target
from mlops.clients import client
from mlops.resources import LIVE_ALIAS
from mlops.settings import RolloutSettings


def rollout_settings(target: Target, stack: str | None) -> RolloutSettings:
    """The rollout function's settings for the target (local names, or the stack's outputs)."""
    minute_seconds = float(os.environ.get("MLOPS_ROLLOUT_MINUTE_SECONDS") or 60)
    if target.names is not None:
        names = target.names
        return RolloutSettings(
            registry_table=names.registry_table,
            model_bucket=names.model_bucket,
            capture_bucket=names.capture_bucket,
            alerts_topic_arn=f"arn:aws:sns:{names.region}:{names.account}:{names.alerts_topic}",
            resource_prefix=names.prefix,
            minute_seconds=minute_seconds,
        )
    name = stack or os.environ.get("MLOPS_STACK", "")
    described = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return RolloutSettings(
        registry_table=target.registry_table,
        model_bucket=target.model_bucket,
        capture_bucket=outputs["CaptureBucketName"],
        alerts_topic_arn=outputs["AlertsTopicArn"],
        resource_prefix=outputs["TrainFunctionName"].removesuffix("-train"),
        minute_seconds=minute_seconds,
    )


StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        help="Deployed CloudFormation stack name (default: $MLOPS_STACK, else the "
        "running local stack).",
    ),
]


def register(
    app: typer.Typer,
    console: Console,
    resolve: Callable[[str | None], Target],
    check_declared: Callable[[Target, str], None],
) -> None:
    """Add the three commands to `app` (main.py passes its target resolver, its declared-model
    check, which refuses an undeclared model before anything is read or moved, and option)."""

    def retried(action: Callable[[], Any]) -> Any:
        """A manual action that lost a conditional write to the running reconciler re-reads and
        goes again (each action is idempotent once done)."""
        from mlops.rollout.reconciler import RolloutConflictError

        for attempt in range(3):
            try:
                return action()
            except RolloutConflictError:
                if attempt == 2:
                    raise
        return None

    def deps(stack: str | None, model: str) -> Any:
        from mlops.rollout.dependencies import rollout_dependencies

        target = resolve(stack)
        check_declared(target, model)
        return rollout_dependencies(rollout_settings(target, stack))

    @app.command()
    def status(model: str, stack: StackOption = None) -> None:
        """What serves MODEL (registry and alias), the canary's progress, the transitions."""
        rollout = deps(stack, model)
        state = rollout.registry.get_pointers(model)
        function_name = rollout.function_name(model)
        alias = rollout.lambda_client.get_alias(FunctionName=function_name, Name=LIVE_ALIAS)
        weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
        console.print(
            f"[bold]{model}[/bold]  production v{state.production or '-'} "
            f"(function version {state.production_function_version or '-'})"
        )
        if state.canary is not None:
            started = (
                datetime.fromtimestamp(state.canary_started_at, UTC).isoformat(timespec="seconds")
                if state.canary_started_at
                else "not yet"
            )
            console.print(
                f"  canary v{state.canary} ({state.canary_kind}, function version "
                f"{state.canary_function_version or '-'}), started {started}, last look "
                f"{state.canary_last_look}"
            )
        else:
            console.print("  no canary in flight")
        routing = ", ".join(f"{v}: {w:.0%}" for v, w in weights.items()) or "none"
        console.print(
            f"  alias {LIVE_ALIAS} -> {alias['FunctionVersion']} + canary routing {routing}"
        )
        versions = Table("version", "status", "updated", title="versions")
        for version in rollout.registry.list_versions(model):
            versions.add_row(f"v{version.version}", version.status, version.updated_at[:19])
        console.print(versions)
        history = Table("#", "when", "what", "version", "why", title="transitions")
        for transition in rollout.registry.list_transitions(model)[-15:]:
            history.add_row(
                str(transition.revision),
                transition.at[:19],
                transition.what,
                f"v{transition.version}" if transition.version is not None else "-",
                transition.reason,
            )
        console.print(history)

    @app.command()
    def promote(
        model: str,
        version: Annotated[
            int | None, typer.Argument(help="Default: the canary in flight.")
        ] = None,
        stack: StackOption = None,
    ) -> None:
        """Promote MODEL's canary now, or make VERSION production (no canary in flight)."""
        from mlops.registry import RegistryError
        from mlops.rollout.reconciler import manual_promote

        try:
            rollout = deps(stack, model)
            report = retried(lambda: manual_promote(model, rollout, version))
        except RegistryError as error:  # RolloutError, or a version the registry does not have
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from error
        pointers = report.pointers
        assert pointers is not None
        console.print(
            f"[green]{model} v{pointers.production} is in production[/green] "
            f"({rollout_function(model, report)})"
        )

    @app.command()
    def rollback(model: str, stack: StackOption = None) -> None:
        """Roll MODEL's canary back; with none, put the previous production version back."""
        from mlops.registry import RegistryError
        from mlops.rollout.reconciler import manual_rollback

        try:
            rollout = deps(stack, model)
            report = retried(lambda: manual_rollback(model, rollout))
        except RegistryError as error:  # RolloutError, or a version the registry does not have
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from error
        pointers = report.pointers
        assert pointers is not None
        console.print(
            f"[yellow]{model}: rolled back[/yellow]; v{pointers.production} serves "
            f"({rollout_function(model, report)})"
        )


def rollout_function(model: str, report: Any) -> str:
    return f"{LIVE_ALIAS} -> function version {report.pointers.production_function_version}"
