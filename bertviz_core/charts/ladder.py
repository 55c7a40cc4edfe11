"""The size ladder's chart: validation accuracy against size, from ``ladder.ladder_report``'s object.

Sizes are log-scaled (a ladder spans two to three orders of magnitude). Each finished size is a
point whose ``customdata`` is its run's id, so a page can open the run a visitor clicks; the points
on the Pareto front are joined by a line; TF-IDF and the majority class are horizontal lines. Against
the file's bytes, the int8 files are points too (their own validation accuracy), beside the fp32
``model.h5`` of the same size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from bertviz_core.charts.training import MUTED_COLOR, TRAIN_COLOR, VALIDATION_COLOR, WARNING_COLOR, plain
from bertviz_core.ladder import pareto_front
from bertviz_core.text import format_bytes

# What the x axis may be: the key of a run's figure, and its title.
AXES = {
    "params": "parameters (encoder + head)",
    "model_bytes": "saved model file (bytes; int8 files as open circles)",
    "predict_ms_per_text": "prediction, milliseconds per text (one at a time)",
}
INT8_COLOR = "#7fb069"


def ladder_chart(report: Mapping, x: str = "params", run_ids: Sequence[str] | None = None) -> go.Figure:
    """Validation accuracy of each run of ``report`` against ``x`` (``AXES``); ``run_ids``, one per
    run, become the points' ``customdata``."""
    if x not in AXES:
        raise ValueError(f"x must be one of {tuple(AXES)}")
    runs = list(report["runs"])
    ids = list(run_ids) if run_ids is not None else [str(index) for index in range(len(runs))]
    xs = [float(run[x]) for run in runs]
    ys = [float(run["val_accuracy"]) for run in runs]
    figure = go.Figure()
    front = pareto_front(xs, ys)
    figure.add_trace(
        go.Scatter(
            x=[xs[index] for index in front], y=[ys[index] for index in front], mode="lines",
            line=dict(color=TRAIN_COLOR, dash="dot", width=1), name="Pareto front", hoverinfo="skip",
        )
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=xs, y=ys, mode="markers+text", name="fp32 model",
            text=[plain(run["name"], 24) for run in runs], textposition="top center",
            marker=dict(size=[13 if index in front else 9 for index in range(len(runs))],
                        color=[VALIDATION_COLOR if run["pretrained"] else TRAIN_COLOR for run in runs]),
            customdata=[[run_id] for run_id in ids],
            hovertext=[_hover(run) for run in runs], hovertemplate="%{hovertext}<extra></extra>",
        )
    )  # fmt: skip
    if x == "model_bytes":
        quantized = [
            (index, run)
            for index, run in enumerate(runs)
            if run.get("int8_bytes") and run.get("int8_val_accuracy") is not None
        ]
        figure.add_trace(
            go.Scatter(
                x=[run["int8_bytes"] for _, run in quantized], y=[run["int8_val_accuracy"] for _, run in quantized],
                mode="markers", name="int8 (TensorFlow Lite)",
                marker=dict(size=10, symbol="circle-open", color=INT8_COLOR, line=dict(width=2)),
                customdata=[[ids[index]] for index, _ in quantized],
                hovertext=[f"{plain(run['name'])} int8: {format_bytes(run['int8_bytes'])}, accuracy "
                           f"{run['int8_val_accuracy']:.3f}" for _, run in quantized],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )  # fmt: skip
    for baseline, name, color in (
        (report.get("tfidf_baseline"), "TF-IDF + logistic regression", WARNING_COLOR),
        (report.get("majority_baseline"), "always the most frequent class", MUTED_COLOR),
    ):
        if baseline and baseline.get("val_accuracy") is not None:
            figure.add_hline(
                y=baseline["val_accuracy"], line=dict(color=color, dash="dash", width=1),
                annotation_text=f"{name} {baseline['val_accuracy']:.3f}", annotation_position="bottom right",
            )  # fmt: skip
    figure.update_layout(
        title=dict(text="Validation accuracy against size", x=0, xanchor="left"),
        xaxis_range=_log_range([value for trace in figure.data for value in (trace.x or ())]),
        height=420, margin=dict(l=10, r=10, t=50, b=10), clickmode="event+select",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        xaxis=dict(type="log", title=AXES[x]), yaxis=dict(title="validation accuracy", tickformat=".0%"),
    )  # fmt: skip
    return figure


def _log_range(values: Sequence[float]) -> list[float] | None:
    """The log axis' range with room for the labels beside the first and the last point."""
    positive = [math.log10(value) for value in values if value and value > 0]
    if not positive:
        return None
    low, high = min(positive), max(positive)
    pad = max(0.15, 0.08 * (high - low))
    return [low - pad, high + 2 * pad]


def _hover(run: Mapping) -> str:
    return (
        f"{plain(run['name'])}<br>{run['params']:,} parameters<br>accuracy {run['val_accuracy']:.3f}, "
        f"macro F1 {run['macro_f1']:.3f}<br>model.h5 {format_bytes(run['model_bytes'])}, int8 "
        f"{format_bytes(run['int8_bytes'])}<br>{run['predict_ms_per_text']:.2f} ms per text"
    )
