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
from rich.markup import escape
from rich.table import Column, Table

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
        raise _fail(str(error), 2) from error


def _registry(target: Target) -> RegistryStore:
    return RegistryStore(client("dynamodb"), target.registry_table)


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print a user-facing error (its text never read as markup) and return the exit to raise."""
    console.print(f"[red]{escape(message)}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _check_declared(target: Target, model: str) -> None:
    """Refuse a model the stack does not declare, before anything is uploaded or moved."""
    declared = target.declared_models()
    if declared is not None and model not in declared:
        known = ", ".join(sorted(declared)) or "none"
        where = f" in {target.specs_dir}" if target.specs_dir else ""
        raise _fail(
            f"'{model}' is not a declared model (declared{where}: {known}); add "
            f"models/{model}.toml first (`mlops spec init` writes one from a CSV)",
            2,
        )


@app.command()
def local(
    port: Annotated[int, typer.Option(help="Port of the prediction API.")] = 8080,
    moto_port: Annotated[int, typer.Option(help="Port of moto's AWS endpoint.")] = 5055,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Start empty: discard the saved state (buckets, registry, function versions, "
            "outbox, metrics) of this state folder.",
        ),
    ] = False,
) -> None:
    """Run the whole stack locally (moto on loopback) until Ctrl-C; what it holds is saved in
    the state folder (.mlops, or $MLOPS_HOME) and comes back on the next start."""
    from mlops.local.stack import LocalStack, LocalStackError, export_line

    stack = LocalStack(
        host=host,
        moto_port=moto_port,
        api_port=port,
        say=lambda line: console.print(line, markup=False, highlight=False),
        reset=reset,
    )
    try:
        with console.status("starting moto and creating the stack's resources..."):
            state = stack.start()
    except LocalStackError as error:
        stack.stop()
        raise _fail(f"mlops local: {error}", 2) from error
    names = stack.names
    console.print(
        f"[bold green]local stack up[/bold green]  AWS endpoint {state.endpoint_url}"
        f"  API {state.api_url}"
    )
    console.print(f"  data bucket   s3://{names.data_bucket}/training/<model>/")
    console.print(
        f"  API key       {state.api_key}   (header x-api-key; also in {stack.folder}/local.json)",
        soft_wrap=True,  # whole lines: these are copied and pasted
    )
    console.print(f"  state         {stack.folder} (kept across restarts; --reset starts empty)")
    console.print(
        "  for aws / SDKs in another shell (moto takes any credentials):", highlight=False
    )
    console.print(f"    {export_line(state)}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"  try: mlops train iris data/iris.csv  |  aws s3 cp FILE "
        f"s3://{names.data_bucket}/training/iris/x.csv",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    # SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed) stop it as Ctrl-C
    # does: the state is saved on the way out.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
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
    _check_declared(target, model)
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
            console.print(f"  - [{problem.code}] {problem.message}", markup=False, highlight=False)
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
    versions = registry.list_versions(model)
    runs = registry.list_runs(model)
    if not versions and not runs:
        declared = target.declared_models()
        if declared is not None and model not in declared:
            _check_declared(target, model)
        console.print(f"{escape(model)}: no training runs yet (`mlops train {escape(model)} FILE`)")
        return
    console.print(
        f"[bold]{escape(model)}[/bold]  production {_v(pointers.production)}  "
        f"canary {_v(pointers.canary)}"
    )
    version_table = Table(
        "version", "status", "metrics", "created", "data", "sha256", title="versions"
    )
    for version in versions:
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
    failed = []
    for run in runs[:10]:
        outcome = f"v{run.version}" if run.version else f"{len(run.problems)} problem(s) below"
        if run.problems:
            failed.append(run)
        run_table.add_row(
            run.run_id[:8], run.status, run.started_at[:19], escape(run.source.key), outcome
        )
    console.print(run_table)
    # Reasons below the table, whole: a table cell truncated them at the terminal's width, and
    # rich read their bracketed codes as markup tags.
    for run in failed:
        for problem in run.problems:
            console.print(
                f"  {run.run_id[:8]} [{problem.code}] {problem.message}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


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
        raw = error.read()
        try:
            return int(error.code), json.loads(raw or b"{}")
        except ValueError:
            return int(error.code), {"error": {"code": "http_error", "message": raw[:200]}}
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise _fail(f"cannot reach the API at {target.api_url}: {reason}") from error


def _spec_for(target: Target, model: str) -> ModelSpec | None:
    """The model's spec as the target serves it, if it can be read here (the local stack's
    spec folder, else this checkout's models/)."""
    from mlops.spec import load_spec

    try:
        return load_spec(model, target.specs_dir)
    except SpecError:
        return None


def _instances_from_json(text: str) -> list[Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(
            f"--json is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            2,
        ) from error
    if isinstance(parsed, dict) and "instances" in parsed:
        parsed = parsed["instances"]
    instances = parsed if isinstance(parsed, list) else [parsed]
    if not instances:
        raise _fail("--json has no instances", 2)
    return instances


def _cell(value: str, categorical: bool) -> float | str | None:
    """A CSV cell as JSON would carry it: empty is null, a categorical stays its text (a
    category "1" is the string "1"), anything else that parses as a number is a number."""
    if value.strip() == "":
        return None
    if categorical:
        return value
    try:
        return float(value)
    except ValueError:
        return value


def _instances_from_csv(path: Path, spec: ModelSpec | None) -> list[dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise _fail(f"{path} cannot be read as a UTF-8 CSV: {error}", 2) from error
    if not header:
        raise _fail(f"{path} is empty: expected a header of feature names and rows", 2)
    if not rows:
        raise _fail(f"{path} has a header but no rows to predict", 2)
    categorical = {f.name for f in spec.features if f.type == "categorical"} if spec else set()
    if spec is not None and spec.target in header:
        console.print(
            f"dropped column '{escape(spec.target)}' from {escape(str(path))}: it is the "
            "spec's target, not a feature",
            highlight=False,
        )
    drop = spec.target if spec is not None else None
    return [
        {k: _cell(v or "", k in categorical) for k, v in row.items() if k != drop and k is not None}
        for row in rows
    ]


def _print_error(status: int, answer: dict[str, Any], first_row: int) -> None:
    error = answer.get("error", answer) if isinstance(answer, dict) else {}
    code, message = escape(str(error.get("code"))), escape(str(error.get("message")))
    console.print(f"[red]{status} {code}: {message}[/red]", highlight=False)
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    violations = details.get("violations", []) if details else []
    if violations:
        table = Table("row", "field", "problem", title="violations")
        for violation in violations:
            row = violation.get("row")
            table.add_row(
                "-" if row is None else str(first_row + int(row)),
                escape(str(violation.get("field", ""))),
                escape(str(violation.get("message", ""))),
            )
        console.print(table)


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
            "--csv",
            exists=True,
            dir_okay=False,
            help="A CSV with a header of feature names (the spec's target column, if present, "
            "is dropped).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
    stack: StackOption = None,
) -> None:
    """Send rows to MODEL's prediction API and print the answers as a table."""
    if (json_body is None) == (csv_file is None):
        raise _fail("give exactly one of --json or --csv", 2)
    instances = _instances_from_json(json_body) if json_body is not None else None
    target = _target(stack)
    _check_declared(target, model)
    if instances is None:
        assert csv_file is not None
        instances = _instances_from_csv(csv_file, _spec_for(target, model))
    table = Table("row", "prediction", "probabilities", "version", title=f"{model} predictions")
    for start in range(0, len(instances), batch_size):
        status, answer = _post(
            target, f"/models/{model}/predict", {"instances": instances[start : start + batch_size]}
        )
        if status != 200:
            _print_error(status, answer, start)
            raise typer.Exit(1)
        classes = answer.get("classes")
        for offset, prediction in enumerate(answer["predictions"]):
            probabilities = ""
            if classes:
                row = answer["probabilities"][offset]
                probabilities = ", ".join(f"{c}={p:.3f}" for c, p in zip(classes, row, strict=True))
            table.add_row(
                str(start + offset),
                escape(str(prediction)),
                escape(probabilities),
                f"v{answer['model_version']}",
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
                f"[green]ok[/green] {escape(str(path))} ({spec.task}, {len(spec.features)} "
                f"features, {spec.estimator.name})",
                highlight=False,
            )
        except SpecError as error:
            failed = True
            console.print(f"[red]invalid[/red] {escape(str(error))}", highlight=False)
    if failed:
        raise typer.Exit(1)


@spec_app.command("init")
def spec_init(
    name: Annotated[str, typer.Argument(help="The model's name (becomes models/NAME.toml).")],
    file: Annotated[Path, typer.Argument(help="A training CSV with a header row.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    task: Annotated[
        str | None,
        typer.Option(help="classification or regression (default: read from the target)."),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="The CSV's delimiter.")] = ",",
    folder: Annotated[
        Path | None,
        typer.Option(help="The specs folder to write NAME.toml into (default: models/)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing spec.")] = False,
) -> None:
    """Write a valid spec from FILE: feature types, categories, bounds with a margin, a
    suggested estimator and gate, each choice commented."""
    from mlops.spec.draft import draft_spec, write_draft

    try:
        data = file.read_bytes()
    except OSError as error:
        raise _fail(f"cannot read {file}: {error.strerror or error}", 2) from error
    path = (folder or default_specs_dir()) / f"{name}.toml"
    try:
        text = draft_spec(name, data, target, task, delimiter, source=file.name)
        write_draft(path, text, force)
        spec = parse_spec(path)
    except SpecError as error:
        raise _fail(str(error), 2) from error
    console.print(
        f"[green]wrote[/green] {escape(str(path))}: {spec.task}, {len(spec.features)} features "
        f"({len(spec.numeric_features)} numeric, {len(spec.categorical_features)} categorical), "
        f"{spec.estimator.name}, gate {spec.quality_gate.metric} >= {spec.quality_gate.threshold}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("review the commented choices, then: mlops train " + name + f" {file}")


@spec_app.command("estimators")
def spec_estimators() -> None:
    """The allow-list of estimators a spec may name."""
    # Names are what a spec must say, so they never wrap or truncate, at any width.
    table = Table("task", "scikit-learn class", "scaling")
    table.columns.insert(0, Column("name", no_wrap=True, overflow="ignore"))
    table.columns[2].overflow = "fold"
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
register_rollout_commands(app, console, _target, _check_declared)


def main() -> None:
    """The entry point. A mistake the commands did not foresee (an AWS error, a network one)
    still ends in one readable line and exit 1, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    import mlops.cli.drift_commands
    import mlops.cli.history_commands  # noqa: F401  (registers `history`)

    try:
        app()
    except (BotoCoreError, ClientError) as error:
        console.print(f"[red]AWS error: {escape(str(error))}[/red]", highlight=False)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
