"""Plotly figures for the "Train a classifier" page, built from plain data.

Every builder takes lists, dicts or arrays (class names, counts, a training history, a confusion
matrix) and returns a ``plotly.graph_objects.Figure``, so each chart can be tested without a browser.

Class names come from users' files. Plotly reads a small set of HTML tags and entities inside
labels, so names are escaped (``plain``) and always shown literally; axes holding class names are
categorical, so labels such as "1" and "10" stay names instead of becoming numbers on a scale.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN_COLOR = "#3b6ea8"
VALIDATION_COLOR = "#e07b39"
PRECISION_COLOR = "#3b6ea8"
RECALL_COLOR = "#7fb069"
WARNING_COLOR = "#c0392b"
MUTED_COLOR = "#9aa5b1"
LABEL_CHARS = 40

_MARGIN = dict(l=10, r=10, t=50, b=10)


def plain(name: object, limit: int = LABEL_CHARS) -> str:
    """A user's label as literal text for plotly: shortened, with HTML tags and entities escaped."""
    text = str(name)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def _plain_names(names: Sequence[object]) -> list[str]:
    """Escaped names; repeated ones (after shortening) get a counter so categories stay distinct."""
    shown: list[str] = []
    seen: set[str] = set()
    for name in names:
        label = plain(name)
        candidate, counter = label, 2
        while candidate in seen:
            candidate = f"{label} ({counter})"
            counter += 1
        seen.add(candidate)
        shown.append(candidate)
    return shown


def _layout(figure: go.Figure, title: str, height: int = 320) -> go.Figure:
    # The tool bar stands on the right edge, not across the top: at 1024 px it covered the end of a long
    # title ("Precision and recall per class (validatio").
    figure.update_layout(title=dict(text=title, x=0, xanchor="left"), height=height, margin=_MARGIN,
                         modebar=dict(orientation="v"))  # fmt: skip
    return figure


# --- data ---------------------------------------------------------------------------------------
def class_balance_chart(class_names: Sequence[object], counts: Sequence[int]) -> go.Figure:
    """Rows per class as bars, with each bar's share of all rows in its hover text."""
    if len(class_names) != len(counts):
        raise ValueError("class_names and counts must have the same length")
    total = sum(int(count) for count in counts) or 1
    names = _plain_names(class_names)
    figure = go.Figure(
        go.Bar(
            x=names,
            y=[int(count) for count in counts],
            marker_color=TRAIN_COLOR,
            text=[f"{int(count):,}" for count in counts],
            textposition="auto",
            customdata=[[int(count) / total] for count in counts],
            hovertemplate="%{x}: %{y:,} rows (%{customdata[0]:.1%})<extra></extra>",
            name="rows",
        )
    )
    figure.update_xaxes(type="category", title_text="class")
    figure.update_yaxes(title_text="rows")
    return _layout(figure, "Class balance")


def token_length_histogram(token_lengths: Sequence[int], seq_len: int) -> go.Figure:
    """Tokens per text ([CLS] and [SEP] included) with the sequence length marked.

    Texts to the right of the line are cut to ``seq_len`` tokens; the title says how many.
    """
    lengths = np.asarray(token_lengths, dtype=np.int64)
    truncated = int(np.count_nonzero(lengths > seq_len))
    kept = lengths[lengths <= seq_len]
    cut = lengths[lengths > seq_len]
    largest = int(lengths.max()) if lengths.size else seq_len
    bin_size = max(1, math.ceil(max(largest, seq_len) / 40))
    bins = dict(start=0.5, end=max(largest, seq_len) + bin_size + 0.5, size=bin_size)
    figure = go.Figure()
    figure.add_trace(
        go.Histogram(
            x=kept.tolist(),
            xbins=bins,
            autobinx=False,
            marker_color=TRAIN_COLOR,
            name="fits",
            hovertemplate="%{x} tokens: %{y} texts<extra></extra>",
        )
    )
    figure.add_trace(
        go.Histogram(
            x=cut.tolist(),
            xbins=bins,
            autobinx=False,
            marker_color=WARNING_COLOR,
            name="cut off",
            hovertemplate="%{x} tokens: %{y} texts (cut off)<extra></extra>",
        )
    )
    figure.update_layout(barmode="overlay", bargap=0.05, legend=dict(orientation="h", y=-0.25))
    figure.add_vline(
        x=seq_len + 0.5,
        line_dash="dash",
        line_color=WARNING_COLOR,
        annotation_text=f"sequence length {seq_len}",
        annotation_position="top right",
    )
    figure.update_xaxes(title_text="tokens per text ([CLS] and [SEP] included)")
    figure.update_yaxes(title_text="texts")
    share = truncated / lengths.size if lengths.size else 0.0
    title = f"Text length in tokens: {truncated:,} of {lengths.size:,} texts cut off ({share:.0%})"
    return _layout(figure, title)


# --- training -----------------------------------------------------------------------------------
def training_curves(history: Sequence[Mapping[str, float]], epochs: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch, training against validation, side by side.

    ``epochs`` fixes the x axis to the planned run, so the curves grow into a stable frame.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.1)
    epoch_numbers = [int(record["epoch"]) for record in history]
    series = (
        ("loss", "training", TRAIN_COLOR, 1, True),
        ("val_loss", "validation", VALIDATION_COLOR, 1, True),
        ("accuracy", "training", TRAIN_COLOR, 2, False),
        ("val_accuracy", "validation", VALIDATION_COLOR, 2, False),
    )
    for key, name, color, column, show_legend in series:
        figure.add_trace(
            go.Scatter(
                x=epoch_numbers,
                y=[_finite_or_none(record.get(key)) for record in history],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                showlegend=show_legend,
                line=dict(color=color, dash="solid" if name == "training" else "dot"),
                hovertemplate=f"epoch %{{x}}: {name} {key.replace('val_', '')} %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
    last_epoch = max([epochs or 0, *epoch_numbers, 1])
    figure.update_xaxes(title_text="epoch", range=[0.5, last_epoch + 0.5], dtick=max(1, last_epoch // 10))
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    figure.update_layout(legend=dict(orientation="h", y=-0.25), height=320, margin=_MARGIN)
    return figure


def pretraining_curves(history: Sequence[Mapping[str, float]], epochs: int | None = None) -> go.Figure:
    """Masked-language-model pretraining per epoch: the loss, and the share of masked words guessed."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Loss", "Masked words guessed"), horizontal_spacing=0.1
    )
    epoch_numbers = [int(record["epoch"]) for record in history]
    for key, column, name in (("loss", 1, "loss (MLM + NSP)"), ("mlm_accuracy", 2, "masked-word accuracy")):
        figure.add_trace(
            go.Scatter(
                x=epoch_numbers,
                y=[_finite_or_none(record.get(key)) for record in history],
                mode="lines+markers",
                name=name,
                line=dict(color=TRAIN_COLOR),
                showlegend=False,
                hovertemplate=f"epoch %{{x}}: {name} %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
    last_epoch = max([epochs or 0, *epoch_numbers, 1])
    figure.update_xaxes(title_text="epoch", range=[0.5, last_epoch + 0.5], dtick=max(1, last_epoch // 10))
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    figure.update_layout(height=300, margin=_MARGIN)
    return figure


def compared_runs_chart(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> go.Figure:
    """Validation loss and accuracy per epoch of several runs, one colour per run (its label)."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"), horizontal_spacing=0.1
    )
    palette = (TRAIN_COLOR, VALIDATION_COLOR, RECALL_COLOR, WARNING_COLOR, MUTED_COLOR, "#8e6bb8")
    labels = _plain_names(list(histories))
    for index, (label, history) in enumerate(zip(labels, histories.values(), strict=True)):
        color = palette[index % len(palette)]
        epochs = [int(record["epoch"]) for record in history]
        for key, column in (("val_loss", 1), ("val_accuracy", 2)):
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[_finite_or_none(record.get(key)) for record in history],
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=column == 1,
                    line=dict(color=color),
                    hovertemplate=f"{label}, epoch %{{x}}: %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="epoch", dtick=1)
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    figure.update_layout(legend=dict(orientation="h", y=-0.3), height=340, margin=_MARGIN)
    return figure


def _finite_or_none(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- results ------------------------------------------------------------------------------------


def per_class_scores_chart(per_class: Sequence[Mapping[str, object]]) -> go.Figure:
    """Precision and recall per class as grouped bars (``evaluate()``'s ``per_class`` rows)."""
    names = _plain_names([row["class"] for row in per_class])
    figure = go.Figure()
    for key, color in (("precision", PRECISION_COLOR), ("recall", RECALL_COLOR)):
        values = [float(row[key]) for row in per_class]  # type: ignore[arg-type]
        figure.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=key,
                marker_color=color,
                text=[f"{value:.0%}" for value in values],
                textposition="auto",
                hovertemplate=f"%{{x}}: {key} %{{y:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(barmode="group", legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(type="category", title_text="class")
    figure.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return _layout(figure, "Precision and recall per class (validation)")


def probability_chart(class_names: Sequence[object], probabilities: Sequence[float]) -> go.Figure:
    """One text's class probabilities as horizontal bars, the most likely class highlighted."""
    values = [float(value) for value in probabilities]
    if len(values) != len(class_names):
        raise ValueError("class_names and probabilities must have the same length")
    names = _plain_names(class_names)
    best = int(np.argmax(values)) if values else -1
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[TRAIN_COLOR if index == best else MUTED_COLOR for index in range(len(values))],
            text=[f"{value:.1%}" for value in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    figure.update_xaxes(range=[0, 1.02], tickformat=".0%", dtick=0.2, title_text="probability")
    figure.update_yaxes(type="category", autorange="reversed")
    return _layout(figure, "Class probabilities", height=max(220, 90 + 36 * len(names)))
