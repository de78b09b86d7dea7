"""The model card: a short markdown page a reviewer reads before trusting a version."""

from __future__ import annotations

from typing import Any

from mlops.spec import ModelSpec


def render_model_card(
    spec: ModelSpec,
    version: int,
    metrics: dict[str, float],
    comparison: dict[str, Any],
    parity: dict[str, Any],
    lineage: dict[str, Any],
    data_summary: dict[str, Any],
) -> str:
    """Markdown: what the model is, the data it saw, how it scored, where it came from."""
    lines = [
        f"# {spec.name} v{version}",
        "",
        spec.description or f"A {spec.task} model.",
        "",
        "## Model",
        "",
        f"- Task: {spec.task}; target column: `{spec.target}`",
        f"- Estimator: `{spec.estimator.name}` with {spec.estimator.params or 'defaults'}",
        f"- Features ({len(spec.features)}): "
        + ", ".join(f"`{f.name}` ({f.type})" for f in spec.features),
        "",
        "## Data",
        "",
        f"- Training file: `s3://{lineage['data_bucket']}/{lineage['data_key']}` "
        f"(version `{lineage.get('data_version_id') or '-'}`, sha256 `{lineage['data_sha256']}`)",
        f"- Rows: {data_summary['rows']} ({data_summary['train_rows']} train, "
        f"{data_summary['test_rows']} held out; split seed {spec.split.seed})",
        f"- Missing values imputed: {data_summary['missing_counts'] or 'none'}",
        "",
        "## Held-out metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())],
        "",
        "## Quality gate",
        "",
        f"- {comparison['metric']} = {comparison['candidate']:.4f}; threshold "
        f"{comparison['threshold']}; production: "
        + (
            f"v{comparison['production_version']} scored {comparison['production']:.4f} on the "
            f"same split (allowed regression {comparison['max_regression']})"
            if comparison.get("production_version")
            else "none"
        ),
        f"- Decision: **{comparison['decision']}** — {comparison['reason']}",
        "",
        "## ONNX parity",
        "",
        f"- max difference {parity['max_abs_difference']:.2e} (tolerance {parity['tolerance']:.0e})"
        f" over {parity['rows']} held-out rows; label agreement {parity['label_agreement']:.2%}",
        "",
        "## Lineage",
        "",
        f"- Spec hash `{lineage['spec_hash']}`; code version `{lineage['code_version']}`",
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(lineage["libraries"].items())),
        "",
    ]
    return "\n".join(lines)
