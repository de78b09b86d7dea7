"""`mlops history MODEL`: the registry's record of a model, read back in one place.

Two tables: each version's lineage (the training file by bucket, key, S3 version id and sha256,
its rows, the spec hash, the code version and the artifact's sha256), then every recorded
rollout transition (`TRANSITION#<revision>`: what moved, from which status to which, when and
why). The canary's periodic "still baking" looks are folded into one line unless `--all` asks
for them: a 30-minute bake is six of them, and they say nothing the next line does not.

Registered on the main app by one import in mlops.cli.main; works against the local stack and
a deployed one (it reads only the registry table).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlops.cli.main import StackOption, _check_declared, _registry, _target, app, console
from mlops.registry import ModelVersion, Transition

BAKING = "continue"  # the decision recorded at each look of a canary that is still baking


def _short(text: object, length: int = 12) -> str:
    return str(text)[:length] if text else "-"


def _lineage_row(version: ModelVersion) -> list[str]:
    lineage = version.lineage
    source = f"s3://{lineage.get('data_bucket', '?')}/{lineage.get('data_key', '?')}"
    if lineage.get("data_version_id"):
        source += f" @{_short(lineage['data_version_id'], 8)}"
    return [
        f"v{version.version}",
        version.status,
        version.created_at[:19],
        escape(source),
        _short(lineage.get("data_sha256")),
        str(lineage.get("data_rows", "-")),
        _short(lineage.get("spec_hash")),
        escape(str(lineage.get("code_version", "-"))),
        _short(version.model_artifact.sha256) if version.artifacts else "-",
    ]


def _transition_rows(transitions: list[Transition], show_all: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    folded = 0
    for index, transition in enumerate(transitions):
        if transition.what == BAKING and not show_all:
            folded += 1
            following = transitions[index + 1] if index + 1 < len(transitions) else None
            if following is not None and following.what == BAKING:
                continue
            rows.append(
                ["", transition.at[:19], f"{folded} look(s) while baking", "", "", "(--all)"]
            )
            folded = 0
            continue
        moved = (
            f"{transition.from_status} -> {transition.to_status}"
            if transition.from_status or transition.to_status
            else ""
        )
        rows.append(
            [
                str(transition.revision),
                transition.at[:19],
                transition.what,
                f"v{transition.version}" if transition.version is not None else "-",
                moved,
                escape(transition.reason),
            ]
        )
    return rows


@app.command()
def history(
    model: str,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list each look of a baking canary.")
    ] = False,
    stack: StackOption = None,
) -> None:
    """MODEL's lineage (training data, spec, code, artifact per version) and every rollout
    transition the registry recorded."""
    target = _target(stack)
    _check_declared(target, model)
    registry = _registry(target)
    versions = registry.list_versions(model)
    transitions = registry.list_transitions(model)
    if not versions and not transitions:
        console.print(
            f"{escape(model)}: nothing registered yet (`mlops train {escape(model)} FILE`)"
        )
        return
    lineage = Table(
        "version",
        "status",
        "created",
        "trained on",
        "data sha256",
        "rows",
        "spec hash",
        "code",
        "model sha256",
        title=f"{model}: lineage",
    )
    for version in versions:
        lineage.add_row(*_lineage_row(version))
    console.print(lineage)
    moves = Table("#", "when", "what", "version", "status", "why", title=f"{model}: transitions")
    for row in _transition_rows(transitions, show_all):
        moves.add_row(*row)
    console.print(moves)
