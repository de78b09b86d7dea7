"""Machine facts, pass/fail against the issue's targets, and the markdown report.

The targets are checked on ratios and on p50s measured in the same interleaved run, never
against numbers from another machine or another run.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

LIBRARIES = (
    "scikit-learn",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "scipy",
    "aws-lambda-powertools",
    "pydantic",
    "boto3",
    "moto",
)
#: The issue's targets.
HANDLER_P50_SINGLE_ROW_US = 150.0
MIN_SPEEDUP_RANDOM_FOREST = 20.0
MAX_COLD_START_RATIO = 0.40
HEADLINE_MODEL = "bench-rf"
#: The Open Inference Protocol's target: a 1,000-row LogisticRegression request through
#: /v2/.../infer answers within this of `session.run` on the same rows (p50, same run).
V2_MAX_OVERHEAD_US = 1000.0
V2_TARGET_MODEL, V2_TARGET_ROWS = "bench-lr", 1000


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "libraries": versions,
    }


def _cell(cells: list[dict[str, Any]], model: str, rows: int) -> dict[str, Any]:
    return next(c for c in cells if c["model"] == model and c["rows"] == rows)


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cells = results["warm"]["cells"]
    targets = []
    for cell in (c for c in cells if c["rows"] == 1):
        p50 = cell["variants"]["handler_onnx"]["p50_us"]
        targets.append(
            {
                "target": f"handler p50 <= {HANDLER_P50_SINGLE_ROW_US:.0f} us, single "
                f"row, {cell['label']}",
                "measured": f"{p50} us",
                "pass": p50 <= HANDLER_P50_SINGLE_ROW_US,
                "headline": cell["model"] == HEADLINE_MODEL,
            }
        )
    # The speedup target sits with the single-row latency target in the issue; at 1,000 rows
    # both handlers are bound by their models (the floor ratio is ~2.5x), reported in the table.
    cell = _cell(cells, HEADLINE_MODEL, 1)
    speedup = cell["speedup_vs_sklearn_handler_p50"]
    targets.append(
        {
            "target": f">= {MIN_SPEEDUP_RANDOM_FOREST:.0f}x faster than the "
            "sklearn handler (p50), RandomForest, single row",
            "measured": f"{speedup}x",
            "pass": speedup >= MIN_SPEEDUP_RANDOM_FOREST,
            "headline": True,
        }
    )
    v2 = _cell(cells, V2_TARGET_MODEL, V2_TARGET_ROWS)
    overhead = v2["v2_overhead_over_floor_p50_us"]
    targets.append(
        {
            "target": f"v2 infer within {V2_MAX_OVERHEAD_US / 1000:.0f} ms of session.run (p50), "
            f"{v2['label']}, {V2_TARGET_ROWS:,} rows",
            "measured": f"+{_fmt(overhead)} (v2 {_fmt(v2['variants']['handler_v2']['p50_us'])}, "
            f"native +{_fmt(v2['overhead_over_floor_p50_us'])})",
            "pass": overhead <= V2_MAX_OVERHEAD_US,
            "headline": True,
        }
    )
    # Cold start against each scikit-learn handler measured: the same handler on a joblib
    # pickle (like for like, as the warm comparison), and two bare hand-rolled ones.
    # Judged on the per-round ratios' 95% interval, not on one median: with a few fresh
    # processes per side the median moved by 5-7 points between two runs.
    cold = results["cold"]
    for key, against in (
        ("ratio_total_vs_sklearn_handler", "the same handler on scikit-learn/joblib"),
        ("ratio_total_vs_sklearn_s3", "a minimal scikit-learn handler, pickle from S3"),
        ("ratio_total", "a minimal scikit-learn handler, pickle on local disk"),
    ):
        spread = cold["spread"][key]
        targets.append(
            {
                "target": f"cold start <= {MAX_COLD_START_RATIO:.0%} of {against} "
                "(import + load + first request, median of per-round ratios)",
                "measured": f"{spread['median']:.0%} (95% interval {spread['ci95_low']:.0%}-"
                f"{spread['ci95_high']:.0%}; rounds {spread['min']:.0%}-{spread['max']:.0%}, "
                f"n={spread['rounds']})",
                "pass": spread["ci95_high"] <= MAX_COLD_START_RATIO,
                "verdict": cold_verdict(spread, MAX_COLD_START_RATIO),
                "headline": key == "ratio_total_vs_sklearn_handler",
            }
        )
    return targets


def cold_verdict(spread: dict[str, Any], limit: float) -> str:
    """PASS when the whole 95% interval is under the limit, MISS when it is over it, and
    undecided when the interval straddles it (this run cannot tell the target from noise)."""
    if spread["ci95_high"] <= limit:
        return "PASS"
    if spread["ci95_low"] > limit:
        return "**MISS**"
    return "**UNDECIDED** (interval straddles the target)"


def _us(stats: dict[str, float]) -> str:
    return f"{_fmt(stats['p50_us'])} / {_fmt(stats['p99_us'])}"


def _fmt(us: float) -> str:
    return (
        f"{us / 1000:.2f} ms" if us >= 10_000 else f"{us:.0f} us" if us >= 100 else (f"{us:.1f} us")
    )


def _mib(size: float) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _kib(size: float) -> str:
    return f"{size / 1024:.0f} KiB"


def render_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# serverless-mlops benchmark",
        "",
        f"{machine['date']} · {machine['cpu_model']} · {machine['cores']} cores · "
        f"Python {machine['python']} · onnxruntime {machine['libraries']['onnxruntime']} · "
        f"scikit-learn {machine['libraries']['scikit-learn']} · "
        f"Powertools {machine['libraries']['aws-lambda-powertools']} · load average at start "
        f"{machine['load_average_at_start'][0]} · run took {results['run_seconds']:.0f} s",
        "",
        "Numbers are from one run on a small shared machine: compare the ratios (measured side "
        "by side, interleaved), not the absolute microseconds with another machine. "
        "Method: benchmarks/README.md.",
        "",
        "## Targets",
        "",
        "| Target | Measured | Result |",
        "|---|---|---|",
    ]
    for target in results["targets"]:
        lines.append(
            f"| {target['target']} | {target['measured']} | "
            f"{target.get('verdict') or ('PASS' if target['pass'] else '**MISS**')} |"
        )
    lines += [
        "",
        "## Warm latency: p50 / p99 per request",
        "",
        "handler = `predict.handler.handler(event, context)` for an API Gateway event (Logger "
        "decorator with correlation id; predict dispatched on its exact path, the REST resolver "
        "for every other route; body parse and per-model feature checks, model, EMF metrics "
        f"line, capture line; capture sample rate {results['capture_sample_rate']}). "
        "sklearn handler = the same handler with the model call replaced by the fitted "
        "scikit-learn pipeline's `predict_proba`. v2 infer = the same handler on "
        "`POST /v2/models/{model}/infer` (Open Inference Protocol) with the same rows as one "
        "FP64 tensor per feature; its outputs are checked equal to session.run's before timing. "
        "Floor = onnxruntime `session.run` on prebuilt tensors.",
        "",
        "| Model | Rows | handler (ONNX) | v2 infer (OIP) | handler (sklearn) "
        "| floor: session.run | sklearn predict_proba | speedup vs sklearn handler, p50 (p99) "
        "| handler overhead over floor, p50 | v2 overhead over floor, p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in results["warm"]["cells"]:
        v = cell["variants"]
        lines.append(
            f"| {cell['label']} | {cell['rows']} | {_us(v['handler_onnx'])} "
            f"| {_us(v['handler_v2'])} "
            f"| {_us(v['handler_sklearn'])} | {_us(v['session_run'])} "
            f"| {_us(v['sklearn_predict_proba'])} "
            f"| {cell['speedup_vs_sklearn_handler_p50']}x "
            f"({cell['speedup_vs_sklearn_handler_p99']}x) "
            f"| +{_fmt(cell['overhead_over_floor_p50_us'])} "
            f"({cell['handler_over_floor_ratio_p50']}x floor) "
            f"| +{_fmt(cell['v2_overhead_over_floor_p50_us'])} "
            f"(native p50 / v2 p50: {cell['v2_speedup_vs_native_handler_p50']}) |"
        )
    counts = results["warm"]["cells"][0]["variants"]
    lines += [
        "",
        "Timed calls per variant (RandomForest, 1 row): "
        + ", ".join(f"{name} {stats['n']}" for name, stats in counts.items())
        + ". "
        f"{results['warm']['method']['rounds']} interleaved rounds per cell.",
    ]
    lines += _breakdown(results)
    cold = results["cold"]
    ours, sk = cold["ours"]["median"], cold["sklearn"]["median"]
    sk3, twin = cold["sklearn_s3"]["median"], cold["sklearn_handler"]["median"]
    lines += [
        "",
        f"## Cold start (RandomForest, 1 row; median of {cold['ours']['runs']} alternating "
        "fresh processes)",
        "",
        "| Handler | import | load model | first request | import + load + request "
        "| process wall time |",
        "|---|---:|---:|---:|---:|---:|",
        f"| ours: predict.handler (registry in DynamoDB, ONNX from S3 via moto server, sha256 "
        f"check) | {_ms(ours['import_s'])} | {_ms(ours['load_s'])} "
        f"| {_ms(ours['first_request_s'])} | {_ms(ours['total_s'])} | {_ms(ours['wall_s'])} |",
        f"| the same handler on scikit-learn: same modules, registry read and sha256-checked S3 "
        f"fetch, a joblib pickle instead of ONNX | {_ms(twin['import_s'])} "
        f"| {_ms(twin['load_s'])} | {_ms(twin['first_request_s'])} | {_ms(twin['total_s'])} "
        f"| {_ms(twin['wall_s'])} |",
        f"| ratio ours / the same handler on scikit-learn | | | "
        f"| **{cold['ratio_total_vs_sklearn_handler']:.0%}** "
        f"| {cold['ratio_wall_vs_sklearn_handler']:.0%} |",
        f"| minimal scikit-learn handler (joblib file on local disk) | {_ms(sk['import_s'])} "
        f"| {_ms(sk['load_s'])} | {_ms(sk['first_request_s'])} | {_ms(sk['total_s'])} "
        f"| {_ms(sk['wall_s'])} |",
        f"| ratio ours / minimal scikit-learn handler | | | | {cold['ratio_total']:.0%} "
        f"| {cold['ratio_wall']:.0%} |",
        f"| minimal scikit-learn handler loading its joblib from S3 with boto3 "
        f"| {_ms(sk3['import_s'])} | {_ms(sk3['load_s'])} | {_ms(sk3['first_request_s'])} "
        f"| {_ms(sk3['total_s'])} | {_ms(sk3['wall_s'])} |",
        f"| ratio ours / minimal scikit-learn handler from S3 | | | "
        f"| {cold['ratio_total_vs_sklearn_s3']:.0%} | {cold['ratio_wall_vs_sklearn_s3']:.0%} |",
        "",
        "Per-round ratios of import + load + request (each round starts every handler once, "
        "the order rotated): their median, the median's 95% bootstrap interval, and the range "
        "over rounds. A target is met beyond noise only if the interval is under it.",
        "",
        "| ours / | rounds | median | 95% interval | min - max |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, against in (
        ("ratio_total_vs_sklearn_handler", "the same handler on scikit-learn"),
        ("ratio_total_vs_sklearn_s3", "minimal scikit-learn handler from S3"),
        ("ratio_total", "minimal scikit-learn handler"),
    ):
        spread = cold["spread"][key]
        lines.append(
            f"| {against} | {spread['rounds']} | {spread['median']:.0%} "
            f"| {spread['ci95_low']:.0%} - {spread['ci95_high']:.0%} "
            f"| {spread['min']:.0%} - {spread['max']:.0%} |"
        )
    lines.append("")
    imports = cold["imports"]["median_s"]
    lines += [
        f"Imports alone (median of {cold['imports']['runs']} fresh processes): "
        f"`import onnxruntime` {_ms(imports['onnxruntime'])}, `import sklearn.ensemble` "
        f"{_ms(imports['sklearn.ensemble'])} (ratio "
        f"{cold['imports']['ratio_onnxruntime_vs_sklearn_ensemble']:.0%}); "
        f"`import predict.handler` {_ms(imports['predict.handler'])}.",
        "",
    ]
    breakdown = cold["import_breakdown"]
    lines += [
        "`python -X importtime -c 'import predict.handler'` (largest subtree per package, "
        "first importer pays, nested counts twice; importtime inflates): total "
        f"{_ms(breakdown['predict.handler_us'] / 1e6)}; "
        + ", ".join(
            f"{name} {_ms(us / 1e6)}" for name, us in breakdown["packages_us"].items() if us >= 5000
        )
        + ".",
        "",
    ]
    sizes = results["sizes"]
    lines += [
        "## Sizes",
        "",
        "| Model | ONNX artifact | joblib pickle | joblib (compress=3) | ONNX / joblib |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {c["model"]: c["label"] for c in results["warm"]["cells"]}
    for model, size in sizes["artifacts"].items():
        lines.append(
            f"| {labels[model]} | {_kib(size['onnx_bytes'])} "
            f"| {_kib(size['joblib_bytes'])} | {_kib(size['joblib_compress3_bytes'])} "
            f"| {size['onnx_over_joblib']:.2f} |"
        )
    lines += [
        "",
        "| Runtime (unzipped) | before trimming | after trimming | budget |",
        "|---|---:|---:|---:|",
    ]
    for arch, layer in sizes["layers"].items():
        if "error" in layer:
            lines.append(f"| inference layer, {arch} | not built: {layer['error'][:80]} | | |")
            continue
        lines.append(
            f"| inference layer {layer['arch']}, python{layer['python']} "
            f"| {_mib(layer['size_before_trim'])} | {_mib(layer['size_after_trim'])} "
            f"| {_mib(layer['budget'])} |"
        )
    for label, size in sizes["runtime_install_bytes"].items():
        lines.append(
            f"| {label}, installed in this venv (x86_64, cp311, untrimmed) | {_mib(size)} | | |"
        )
    lines.append("")
    return "\n".join(lines)


def _breakdown(results: dict[str, Any]) -> list[str]:
    breakdown = results["breakdown"]
    by_rows = breakdown["rows"]
    row_keys = list(by_rows)
    lines = [
        "",
        "## Where the handler's time goes (RandomForest; stages timed separately, "
        "interleaved with the whole handler; p50)",
        "",
        "| Stage | " + " | ".join(f"{rows} row(s)" for rows in row_keys) + " |",
        "|---|" + "---:|" * len(row_keys),
    ]
    for name, description in breakdown["stages"].items():
        cells = []
        for rows in row_keys:
            p50 = by_rows[rows]["variants"][name]["p50_us"]
            whole = by_rows[rows]["variants"]["handler_onnx"]["p50_us"]
            cells.append(f"{_fmt(p50)} ({p50 / whole:.0%})")
        lines.append(f"| {description} | " + " | ".join(cells) + " |")
    for key, label in (
        ("decorators_by_difference_p50_us", "by difference: whole handler - handle"),
        (
            "rest_by_difference_p50_us",
            "by difference: handle - (parse + to_tensors + predict + EMF line + capture line): "
            "the route's glue (precheck, response JSON, request id) and stages' cache misses "
            "when run together",
        ),
    ):
        values = []
        for rows in row_keys:
            value = by_rows[rows][key]
            whole = by_rows[rows]["variants"]["handler_onnx"]["p50_us"]
            values.append(f"{_fmt(value)} ({value / whole:.0%})")
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += ["", "cProfile of the warm single-row handler: benchmarks/results/profile.txt.", ""]
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
