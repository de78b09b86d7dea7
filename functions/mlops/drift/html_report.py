"""The drift report as one self-contained HTML file: verdict first, the table, one plot per
feature (training reference vs the window), images inline as base64 PNG.

Self-contained because it is opened from an e-mail link or `mlops report`, often offline: no
script, stylesheet or font is fetched. PNG at 72 dpi keeps a plot near 15-25 KB, so a
20-feature report stays well under 1 MB (a test holds the limit). matplotlib's Agg backend:
no display is needed in Lambda.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from mlops.drift.columns import Columns
from mlops.drift.result import DriftReport, FeatureDrift

MAX_PLOTTED_VALUES = 200_000
# About 7 KB per plot (measured: 64 features + predictions, 455 KB, 10 s to draw on this
# 2-core machine): 100 plots keep any report under 1 MB and its drawing near 15 s.
MAX_PLOTS = 100


def plotted_rows(rows: list[FeatureDrift], limit: int = MAX_PLOTS) -> list[FeatureDrift]:
    """The rows that get a plot: drifted ones first, then the predictions, then the rest in
    spec order, at most `limit` (the table always lists every row)."""
    ranked = sorted(
        rows, key=lambda row: (row.verdict != "drift", row.feature != "prediction")
    )  # sorted() is stable: spec order within each group
    return ranked[:limit]


def _figure_png(plot: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.2, 2.4), dpi=72)
    try:
        plot(axes)
        axes.legend(fontsize=7)
        axes.tick_params(labelsize=7)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return values[:: max(1, values.size // MAX_PLOTTED_VALUES)]


def numeric_plot(name: str, reference: np.ndarray, current: np.ndarray) -> str:
    ref, cur = _finite(reference), _finite(current)

    def draw(axes: Any) -> None:
        both = np.concatenate([ref, cur]) if ref.size + cur.size else np.array([0.0, 1.0])
        bins = np.histogram_bin_edges(both, bins=30)
        if ref.size:
            axes.hist(ref, bins=bins, density=True, alpha=0.5, label=f"training (n={ref.size})")
        if cur.size:
            axes.hist(cur, bins=bins, density=True, alpha=0.5, label=f"window (n={cur.size})")
        axes.set_title(name, fontsize=8)

    return _figure_png(draw)


def categorical_plot(name: str, reference: np.ndarray, current: np.ndarray) -> str:
    ref = [str(v) for v in reference if v is not None]
    cur = [str(v) for v in current if v is not None]
    labels = sorted(set(ref) | set(cur))[:30]

    def draw(axes: Any) -> None:
        x = np.arange(len(labels))
        for offset, values, label in ((-0.2, ref, "training"), (0.2, cur, "window")):
            total = max(len(values), 1)
            shares = [values.count(item) / total for item in labels]
            axes.bar(x + offset, shares, width=0.4, label=f"{label} (n={len(values)})")
        axes.set_xticks(x, labels, fontsize=7, rotation=30)
        axes.set_title(name, fontsize=8)

    return _figure_png(draw)


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


def _row(row: FeatureDrift) -> str:
    threshold = f"p &le; alpha and effect &gt; {row.negligible_effect:g}"
    cells = [
        row.feature,
        row.test,
        _number(row.statistic),
        _number(row.corrected_p_value),
        f"{_number(row.effect)} {row.effect_unit}",
        threshold,
        row.verdict,
        f"{row.n_current} / {row.n_reference}",
    ]
    css = ' class="drift"' if row.verdict == "drift" else ""
    return (
        f"<tr{css}>"
        + "".join(f"<td>{c if i in (5,) else html.escape(c)}</td>" for i, c in enumerate(cells))
        + "</tr>"
    )


def render_report(
    report: DriftReport,
    *,
    model: str,
    version: int,
    checked_at: str,
    reference: Columns,
    window: Columns,
    reference_predictions: np.ndarray | None,
    window_predictions: np.ndarray | None,
    extra: dict[str, Any],
) -> str:
    """The HTML text. `extra` carries the orchestration's counts (window objects, feedback join)."""
    rows = list(report.features) + ([report.prediction] if report.prediction else [])
    headline = {
        "drift": f"DRIFT: {', '.join(report.drifted) or 'predictions'}",
        "no_drift": "No drift",
        "insufficient_data": "Insufficient data",
    }[report.verdict]
    plots: list[str] = []
    shown = plotted_rows(rows)
    if len(shown) < len(rows):
        plots.append(
            f"<p>{len(rows) - len(shown)} feature(s) without a plot (limit {MAX_PLOTS}; "
            "drifted features are always drawn).</p>"
        )
    for row in shown:
        if row.feature == "prediction":
            ref_values, cur_values = reference_predictions, window_predictions
        elif row.kind == "numeric":
            ref_values = reference.numeric.get(row.feature)
            cur_values = window.numeric.get(row.feature)
        else:
            ref_values = reference.categorical.get(row.feature)
            cur_values = window.categorical.get(row.feature)
        ref_array = np.asarray(ref_values if ref_values is not None else [])
        cur_array = np.asarray(cur_values if cur_values is not None else [])
        if row.kind == "numeric":
            image = numeric_plot(row.feature, ref_array, cur_array)
        else:
            image = categorical_plot(row.feature, ref_array, cur_array)
        plots.append(
            f'<figure><img alt="{html.escape(row.feature)}: training vs window" '
            f'src="data:image/png;base64,{image}"><figcaption>{html.escape(row.feature)} '
            f"({row.verdict})</figcaption></figure>"
        )
    quality = ""
    if report.quality is not None:
        q = report.quality
        interval = f"[{q.interval[0]:.3g}, {q.interval[1]:.3g}]" if q.interval else "-"
        quality = (
            f"<h2>Quality on labelled traffic</h2><p>{html.escape(q.metric)} = "
            f"{_number(q.value)} {interval} ({q.confidence:.0%}, {q.method}, n={q.n}); "
            f"held-out {q.held_out:.3g}: <b>{q.verdict}</b> {html.escape(q.note)}</p>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    counts = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in extra.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Drift report {html.escape(model)} v{version}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}} tr.drift{{background:#fdd}}
figure{{display:inline-block;margin:4px}} .verdict{{font-size:1.6em}}</style></head>
<body>
<p class="verdict"><b>{html.escape(headline)}</b></p>
<p>Model {html.escape(model)} v{version}, checked {html.escape(checked_at)};
window {report.n_window} rows, reference {report.n_reference} rows
({html.escape(report.reference_kind)}); alpha
{report.alpha:g}, {html.escape(report.correction)} over {report.tests_in_family} tests;
detectable shift {_number(report.detectable_effect_sd)} sd
(minimum effect {report.min_effect_sd:g} sd).</p>
<table><tr><th>feature</th><th>test</th><th>statistic</th><th>corrected p</th><th>effect</th>
<th>threshold</th><th>verdict</th><th>n (window / reference)</th></tr>
{"".join(_row(r) for r in rows)}
</table>
{quality}
<ul>{notes}{counts}</ul>
<h2>Distributions: training reference vs window</h2>
{"".join(plots)}
</body></html>
"""
