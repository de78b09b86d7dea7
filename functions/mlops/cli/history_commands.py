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


def _lineage_lines(version: ModelVersion) -> list[str]:
    """Two lines per version (a table truncated the file names at a terminal's width)."""
    lineage = version.lineage
    artifact = _short(version.model_artifact.sha256) if version.artifacts else "-"
    return [
        f"  v{version.version:<3} {version.status:<12} {lineage.get('data_key', '-')}",
        f"  {'':17}S3 version {_short(lineage.get('data_version_id'), 8)}, data sha256 "
        f"{_short(lineage.get('data_sha256'))}, {lineage.get('data_rows', '-')} rows; spec "
        f"{_short(lineage.get('spec_hash'))}, code {lineage.get('code_version', '-')}; model "
        f"sha256 {artifact}; created {version.created_at[:19]}",
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
    buckets = sorted({str(v.lineage.get("data_bucket")) for v in versions if v.lineage})
    console.print(
        f"[bold]{escape(model)}: lineage[/bold] (training files in "
        f"s3://{escape(', '.join(buckets) or '-')}/)",
        highlight=False,
    )
    for version in versions:
        for line in _lineage_lines(version):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    moves = Table("#", "when", "what", "version", "status", "why", title=f"{model}: transitions")
    for row in _transition_rows(transitions, show_all):
        moves.add_row(*row)
    console.print(moves)
