"""`mlops drift MODEL [--now]` and `mlops report MODEL [--open]`: the latest drift verdict as a
table, and its HTML report saved locally (the pre-signed link in an alert dies with the drift
function's role session; this command works any time the caller can read the report prefix).

Registered on the main app by one import in mlops.cli.main. Both work against the local stack
and a deployed one: names come from the local stack's prefix or from the stack's outputs.
"""

from __future__ import annotations

import os
import time
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from mlops.cli.main import StackOption, _check_declared, _registry, _target, app, console
from mlops.cli.target import Target
from mlops.clients import client


def _capture_bucket_and_queue(target: Target, stack: str | None) -> tuple[str, str]:
    if target.names is not None:
        names = target.names
        queue = client("sqs").get_queue_url(QueueName=names.drift_queue)["QueueUrl"]
        return names.capture_bucket, str(queue)
    name = stack or os.environ.get("MLOPS_STACK") or ""
    described = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return outputs["CaptureBucketName"], outputs["DriftScheduleQueueUrl"]


def _latest(target: Target, model: str) -> dict[str, Any] | None:
    from mlops.drift.run import DriftStateStore

    return DriftStateStore(client("dynamodb"), target.registry_table).latest(model)


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def print_result(result: dict[str, Any]) -> None:
    """The verdict line, then the table the HTML report opens with."""
    drifted = ", ".join(result.get("drifted") or [])
    verdict = result["verdict"] + (f": {drifted}" if drifted else "")
    console.print(
        f"[bold]{result['model']} v{result['version']}[/bold]  {verdict}  "
        f"(window {result['n_window']} rows, reference {result['n_reference']}, "
        f"{result['reference_kind']}, check {result['check_id']})"
    )
    table = Table(
        "feature", "test", "statistic", "corrected p", "effect", "threshold", "verdict", "n"
    )
    rows = list(result.get("features") or [])
    if result.get("prediction"):
        rows.append(result["prediction"])
    for row in rows:
        table.add_row(
            row["feature"],
            row["test"],
            _number(row["statistic"]),
            _number(row["corrected_p_value"]),
            f"{_number(row['effect'])} {row['effect_unit']}",
            f"> {row['negligible_effect']:g}",
            row["verdict"],
            f"{row['n_current']} / {row['n_reference']}",
        )
    console.print(table)
    quality = result.get("quality")
    if quality:
        interval = quality.get("interval")
        shown = f"[{interval[0]:.3g}, {interval[1]:.3g}]" if interval else ""
        console.print(
            f"quality: {quality['metric']} = {_number(quality['value'])} {shown} "
            f"(n={quality['n']}, held-out {quality['held_out']:.3g}): {quality['verdict']}"
        )
    feedback = result.get("feedback") or {}
    if feedback.get("unknown_request_ids") or feedback.get("rows_out_of_range"):
        console.print(
            f"feedback not joined: {feedback['unknown_request_ids']} unknown request id(s), "
            f"{feedback['rows_out_of_range']} row(s) beyond their request"
        )
    for note in result.get("notes") or []:
        console.print(f"note: {note}")


@app.command()
def drift(
    model: Annotated[str, typer.Argument(help="Model name.")],
    stack: StackOption = None,
    now: Annotated[bool, typer.Option("--now", help="Run a check now and wait for it.")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for --now.")] = 300,
) -> None:
    """Print MODEL's latest drift verdict and its table (with --now: check first)."""
    target = _target(stack)
    _check_declared(target, model)
    bucket, queue = _capture_bucket_and_queue(target, stack)
    if now and _registry(target).get_pointers(model).production is None:
        # The check compares the serving version's traffic: with none it records nothing, and
        # waiting for its result would only end at --timeout.
        console.print(
            f"[red]{model} has no production version yet: there is nothing to check[/red]"
        )
        raise typer.Exit(1)
    if now:
        from mlops.drift.run import check_id_for
        from mlops.local.drift_schedule import schedule_message

        when = datetime.now(UTC).replace(microsecond=0)
        check_id = check_id_for(when)
        client("sqs").send_message(QueueUrl=queue, MessageBody=schedule_message(model, when))
        deadline = time.monotonic() + timeout
        with console.status(f"drift check {check_id} of {model}..."):
            while (_latest(target, model) or {}).get("check_id") != check_id:
                if time.monotonic() > deadline:
                    console.print(f"[red]no result for check {check_id} after {timeout} s[/red]")
                    raise typer.Exit(1)
                time.sleep(1.0)
    latest = _latest(target, model)
    if latest is None:
        console.print(f"no drift check of {model} has finished yet (try --now)")
        raise typer.Exit(1)
    key = str(latest["report_key"]).replace("report.html", "result.json")
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    print_result(orjson.loads(body))


@app.command()
def report(
    model: Annotated[str, typer.Argument(help="Model name.")],
    stack: StackOption = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to save it (default $MLOPS_HOME/reports/).")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open it in the browser.")] = False,
) -> None:
    """Save MODEL's latest drift report (self-contained HTML) locally."""
    target = _target(stack)
    _check_declared(target, model)
    bucket, _ = _capture_bucket_and_queue(target, stack)
    latest = _latest(target, model)
    if latest is None:
        console.print(f"no drift report for {model} yet (run `mlops drift {model} --now`)")
        raise typer.Exit(1)
    body = client("s3").get_object(Bucket=bucket, Key=latest["report_key"])["Body"].read()
    from mlops.local.stack import state_dir

    path = output or state_dir() / "reports" / f"{model}-{latest['check_id']}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    console.print(f"{latest['verdict']}: saved {path} ({len(body):,} bytes)")
    if open_:
        webbrowser.open(path.resolve().as_uri())
