"""The `mlops` command line: local stack, training, registry, promotion, predictions, specs."""

from __future__ import annotations

import csv
import json
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlops.cli.rollout_commands import register as register_rollout_commands
from mlops.cli.target import Target, TargetError, resolve_target
from mlops.clients import client
from mlops.registry import RegistryStore, TrainingRun
from mlops.spec import ESTIMATORS, ModelSpec, SpecError, default_specs_dir, parse_spec

app = typer.Typer(
    help="serverless-mlops: from a CSV in S3 to a canary-released ONNX API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
spec_app = typer.Typer(
    help="Model specs: schema, validation, allowed estimators.", no_args_is_help=True
)
app.add_typer(spec_app, name="spec")
console = Console()
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        help="Deployed CloudFormation stack name (default: $MLOPS_STACK, else the "
        "running local stack).",
    ),
]


def _target(stack: str | None) -> Target:
    try:
        return resolve_target(stack)
    except TargetError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


def _registry(target: Target) -> RegistryStore:
    return RegistryStore(client("dynamodb"), target.registry_table)


@app.command()
def local(
    port: Annotated[int, typer.Option(help="Port of the prediction API.")] = 8080,
    moto_port: Annotated[int, typer.Option(help="Port of moto's AWS endpoint.")] = 5055,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
) -> None:
    """Run the whole stack locally (moto on loopback) until Ctrl-C."""
    from mlops.local.stack import LocalStack

    stack = LocalStack(
        host=host,
        moto_port=moto_port,
        api_port=port,
        say=lambda line: console.print(line, markup=False, highlight=False),
    )
    with console.status("starting moto and creating the stack's resources..."):
        state = stack.start()
    names = stack.names
    console.print(
        f"[bold green]local stack up[/bold green]  AWS endpoint {state.endpoint_url}"
        f"  API {state.api_url}"
    )
    console.print(f"  data bucket   s3://{names.data_bucket}/training/<model>/")
    console.print(
        f"  API key       {state.api_key}   (header x-api-key; also in .mlops/local.json)"
    )
    console.print(
        f"  try: mlops train iris data/iris.csv  |  aws --endpoint-url "
        f"{state.endpoint_url} s3 cp FILE s3://{names.data_bucket}/training/iris/x.csv"
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.wait()
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stack.stop()


def _run_for_key(registry: RegistryStore, model: str, key: str) -> TrainingRun | None:
    return next((run for run in registry.list_runs(model) if run.source.key == key), None)


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="Model name (models/<name>.toml).")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    stack: StackOption = None,
    wait: Annotated[bool, typer.Option(help="Wait for the outcome.")] = True,
    timeout: Annotated[int, typer.Option(help="Seconds to wait.")] = 900,
) -> None:
    """Upload FILE as training data for MODEL, then wait for and print the outcome."""
    target = _target(stack)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"training/{model}/{stamp}-{file.name}"
    # One PUT, streamed from the file (S3 takes up to 5 GB in one request). The train function
    # refuses files over its MAX_TRAINING_FILE_MB (150 MB by default) before downloading them.
    status = console.status(f"uploading {file} ({file.stat().st_size:,} bytes)...")
    with status, file.open("rb") as body:
        client("s3").put_object(Bucket=target.data_bucket, Key=key, Body=body)
    console.print(f"uploaded s3://{target.data_bucket}/{key}")
    if not wait:
        return
    registry = _registry(target)
    deadline = time.monotonic() + timeout
    run: TrainingRun | None = None
    with console.status("waiting for the training run (validate, fit, convert, parity, gate)..."):
        while time.monotonic() < deadline:
            run = _run_for_key(registry, model, key)
            if run is not None and run.status != "running":
                break
            time.sleep(0.5)
    if run is None or run.status == "running":
        console.print(f"[yellow]no outcome after {timeout}s; check `mlops models {model}`")
        raise typer.Exit(3)
    _print_run(registry, run)
    if run.status == "failed":
        raise typer.Exit(1)


def _print_run(registry: RegistryStore, run: TrainingRun) -> None:
    colour = {"registered": "green", "rejected": "yellow", "failed": "red"}.get(run.status, "")
    console.print(
        f"[bold {colour}]{run.model}: {run.status}[/bold {colour}]"
        + (f" as v{run.version}" if run.version else "")
    )
    if run.status == "failed":
        for problem in run.problems:
            console.print(f"  - [{problem.code}] {problem.message}", markup=False)
        return
    if run.version is None:
        return
    version = registry.get_version(run.model, run.version)
    table = Table("metric", "value", title=f"{run.model} v{run.version} held-out metrics")
    for name, value in sorted(version.metrics.items()):
        table.add_row(name, "-" if value is None else f"{value:.4f}")
    console.print(table)
    console.print(f"  gate: {version.comparison.get('reason')}")
    console.print(
        f"  parity: max difference {version.parity.get('max_abs_difference', 0):.1e} "
        f"over {version.parity.get('rows')} held-out rows"
    )
    console.print(f"  artifact sha256 {version.model_artifact.sha256}")


@app.command()
def models(
    model: Annotated[str | None, typer.Argument(help="Show one model in detail.")] = None,
    stack: StackOption = None,
) -> None:
    """Models, versions, status, metrics and lineage."""
    target = _target(stack)
    registry = _registry(target)
    if model is None:
        table = Table("model", "production", "canary", "versions", "latest", "last run")
        for name in registry.list_models():
            pointers = registry.get_pointers(name)
            versions = registry.list_versions(name)
            runs = registry.list_runs(name)
            latest = versions[-1] if versions else None
            table.add_row(
                name,
                _v(pointers.production),
                _v(pointers.canary),
                str(len(versions)),
                f"v{latest.version} {latest.status}" if latest else "-",
                f"{runs[0].status} {runs[0].started_at[:19]}" if runs else "-",
            )
        console.print(table)
        return
    pointers = registry.get_pointers(model)
    console.print(
        f"[bold]{model}[/bold]  production {_v(pointers.production)}  canary {_v(pointers.canary)}"
    )
    version_table = Table(
        "version", "status", "metrics", "created", "data", "sha256", title="versions"
    )
    for version in registry.list_versions(model):
        metrics = ", ".join(
            f"{k} {v:.3f}" for k, v in sorted(version.metrics.items()) if v is not None
        )
        lineage = version.lineage
        version_table.add_row(
            f"v{version.version}",
            version.status,
            metrics,
            version.created_at[:19],
            f"{lineage.get('data_key')} ({lineage.get('data_rows')} rows)",
            version.model_artifact.sha256[:12] if version.artifacts else "-",
        )
    console.print(version_table)
    run_table = Table("run", "status", "started", "file", "outcome", title="training runs")
    for run in registry.list_runs(model)[:10]:
        outcome = (
            f"v{run.version}"
            if run.version
            else "; ".join(f"[{p.code}] {p.message}" for p in run.problems)
        )
        run_table.add_row(run.run_id[:8], run.status, run.started_at[:19], run.source.key, outcome)
    console.print(run_table)


def _v(version: int | None) -> str:
    return f"v{version}" if version else "-"


def _post(target: Target, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the target's own API URL
        f"{target.api_url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "x-api-key": target.api_key},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"{}")


def _coerce(value: str) -> float | str | None:
    if value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


@app.command()
def predict(
    model: str,
    json_body: Annotated[
        str | None,
        typer.Option(
            "--json",
            help='Instances as JSON: an object, a list of objects or {"instances": [...]}.',
        ),
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv", exists=True, dir_okay=False, help="A CSV with a header of feature names."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
    stack: StackOption = None,
) -> None:
    """Send rows to MODEL's prediction API and print the answers as a table."""
    target = _target(stack)
    if (json_body is None) == (csv_file is None):
        console.print("[red]give exactly one of --json or --csv[/red]")
        raise typer.Exit(2)
    if json_body is not None:
        parsed = json.loads(json_body)
        instances = (
            parsed["instances"]
            if isinstance(parsed, dict) and "instances" in parsed
            else parsed
            if isinstance(parsed, list)
            else [parsed]
        )
    else:
        assert csv_file is not None
        with csv_file.open(newline="", encoding="utf-8-sig") as handle:
            instances = [{k: _coerce(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    table = Table("row", "prediction", "probabilities", "version", title=f"{model} predictions")
    for start in range(0, len(instances), batch_size):
        status, answer = _post(
            target, f"/models/{model}/predict", {"instances": instances[start : start + batch_size]}
        )
        if status != 200:
            error = answer.get("error", answer)
            console.print(
                f"[red]{status} {error.get('code')}: {error.get('message')}[/red]", highlight=False
            )
            for violation in error.get("details", {}).get("violations", [])[:10]:
                console.print(f"  - {violation}", markup=False)
            raise typer.Exit(1)
        classes = answer.get("classes")
        for offset, prediction in enumerate(answer["predictions"]):
            probabilities = ""
            if classes:
                row = answer["probabilities"][offset]
                probabilities = ", ".join(f"{c}={p:.3f}" for c, p in zip(classes, row, strict=True))
            table.add_row(
                str(start + offset), str(prediction), probabilities, f"v{answer['model_version']}"
            )
    console.print(table)


@spec_app.command("schema")
def spec_schema() -> None:
    """Print the JSON Schema of a model spec."""
    print(json.dumps(ModelSpec.model_json_schema(), indent=2))


@spec_app.command("validate")
def spec_validate(files: Annotated[list[Path] | None, typer.Argument()] = None) -> None:
    """Validate spec files (default: every models/*.toml), estimator params included."""
    from mlops.training.pipeline import build_estimator

    paths = files or sorted(default_specs_dir().glob("*.toml"))
    failed = False
    for path in paths:
        try:
            spec = parse_spec(path)
            build_estimator(spec)
            console.print(
                f"[green]ok[/green] {path} ({spec.task}, {len(spec.features)} "
                f"features, {spec.estimator.name})"
            )
        except SpecError as error:
            failed = True
            console.print(f"[red]invalid[/red] {error}", markup=False)
    if failed:
        raise typer.Exit(1)


@spec_app.command("estimators")
def spec_estimators() -> None:
    """The allow-list of estimators a spec may name."""
    table = Table("name", "task", "scikit-learn class", "scaling")
    for key, entry in sorted(ESTIMATORS.items()):
        table.add_row(
            key,
            entry.task,
            f"{entry.module}.{entry.class_name}",
            "impute + scale" if entry.needs_scaling else "impute only",
        )
    console.print(table)


@app.command()
def examples(folder: Annotated[Path, typer.Argument()] = Path("data")) -> None:
    """Write example training CSVs (from datasets that ship with scikit-learn) to FOLDER."""
    from mlops.examples import write_examples

    for path in write_examples(folder):
        console.print(f"wrote {path}")


# status, promote, rollback: the rollout reconciler's code (mlops.cli.rollout_commands).
register_rollout_commands(app, console, _target)


def main() -> None:
    import mlops.cli.drift_commands  # noqa: F401  (registers `drift` and `report`)

    app()
