"""Plotly figures for looking inside a trained classifier: attention and token attributions.

Tokens come from users' texts, so every label is escaped (``training.plain``) and placed by
position (a text may hold the same word twice; a categorical axis would merge them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bertviz_core.charts.training import _layout, plain

TOKEN_CHARS = 16
# Eight to a line with a fixed 14 px font: ten at the heatmap's own text size shrank the words below reading
# size at 1024 px.
TOKENS_PER_ROW = 8
TOKEN_FONT_SIZE = 14
ATTENTION_SCALE = "Blues"
# Red pushes towards the class, blue away from it (diverging, centred on zero).
ATTRIBUTION_SCALE = [[0.0, "#2b6cb0"], [0.5, "#f7f7f7"], [1.0, "#c0392b"]]


def _labels(tokens: Sequence[str]) -> list[str]:
    return [plain(token, TOKEN_CHARS) for token in tokens]


def attention_heatmap(tokens: Sequence[str], weights: np.ndarray, title: str) -> go.Figure:
    """One head's attention: row i is how token i spreads its attention over the tokens (sums to 1)."""
    weights = np.asarray(weights, dtype=float)
    n = len(tokens)
    if weights.shape != (n, n):
        raise ValueError("the attention matrix must be tokens x tokens")
    labels = _labels(tokens)
    figure = go.Figure(
        go.Heatmap(
            z=weights.tolist(),
            x=list(range(n)),
            y=list(range(n)),
            customdata=[[[labels[i], labels[j]] for j in range(n)] for i in range(n)],
            colorscale=ATTENTION_SCALE,
            zmin=0.0,
            zmax=1.0,
            colorbar=dict(title="weight", thickness=12),
            hovertemplate="%{customdata[0]} looks at %{customdata[1]}: %{z:.1%}<extra></extra>",
        )
    )
    ticks = dict(tickmode="array", tickvals=list(range(n)), ticktext=labels, showgrid=False)
    figure.update_xaxes(**ticks, title_text="looked at", tickangle=-60)
    figure.update_yaxes(**ticks, title_text="looking", autorange="reversed")
    size = max(360, min(900, 160 + 16 * n))
    return _layout(figure, title, height=size)


# The grid labels its tokens on the first column and the last row while they stay readable.
GRID_LABELLED_TOKENS = 24


def attention_grid(tokens: Sequence[str], attention: np.ndarray) -> go.Figure:
    """Every layer (rows) and head (columns) at a glance: a head whose map is a diagonal looks at each
    token itself, a column looks at one token ([CLS], [SEP]) from everywhere. The tokens label the
    left and bottom edges (for texts of up to ``GRID_LABELLED_TOKENS`` tokens) and every hover."""
    attention = np.asarray(attention, dtype=float)
    layers, heads, n = attention.shape[0], attention.shape[1], len(tokens)
    if attention.shape[2:] != (n, n):
        raise ValueError("each attention map must be tokens x tokens")
    labels = _labels(tokens)
    figure = make_subplots(
        rows=layers,
        cols=heads,
        row_titles=[f"Encoder-{layer + 1}" for layer in range(layers)],
        column_titles=[f"head {head + 1}" for head in range(heads)],
        horizontal_spacing=0.02,
        vertical_spacing=0.03,
    )
    pairs = [[[labels[i], labels[j]] for j in range(n)] for i in range(n)]
    for layer in range(layers):
        for head in range(heads):
            figure.add_trace(
                go.Heatmap(
                    z=attention[layer, head].tolist(),
                    x=list(range(n)),
                    y=list(range(n)),
                    customdata=pairs,
                    colorscale=ATTENTION_SCALE,
                    zmin=0.0,
                    zmax=1.0,
                    showscale=False,
                    hovertemplate=f"Encoder-{layer + 1}, head {head + 1}: %{{customdata[0]}} looks at "
                    "%{customdata[1]}: %{z:.1%}<extra></extra>",
                ),
                row=layer + 1,
                col=head + 1,
            )
    labelled = n <= GRID_LABELLED_TOKENS
    ticks = dict(
        tickmode="array", tickvals=list(range(n)), ticktext=labels, tickfont=dict(size=9), showgrid=False
    )
    figure.update_xaxes(**ticks, showticklabels=False, tickangle=-60)
    figure.update_yaxes(**ticks, showticklabels=False, autorange="reversed")
    if labelled:
        for layer in range(layers):
            figure.update_yaxes(showticklabels=True, row=layer + 1, col=1)
        for head in range(heads):
            figure.update_xaxes(showticklabels=True, row=layers, col=head + 1)
    cell = max(60, min(140, 560 // max(heads, 1)))
    margin = 70 if labelled else 0
    return _layout(figure, "Attention of every layer and head", height=80 + margin + layers * cell)


def attribution_tokens(tokens: Sequence[str], values: Sequence[float], class_name: str) -> go.Figure:
    """The text's tokens in reading order, ``TOKENS_PER_ROW`` to a line, each coloured by how much
    it moved the probability of ``class_name`` (red towards it, blue away)."""
    values = np.asarray(values, dtype=float)
    if len(values) != len(tokens):
        raise ValueError("one attribution per token")
    labels = _labels(tokens)
    rows = -(-len(tokens) // TOKENS_PER_ROW)
    z = np.full((rows, TOKENS_PER_ROW), np.nan)
    text = [[""] * TOKENS_PER_ROW for _ in range(rows)]
    for index, value in enumerate(values):
        z[index // TOKENS_PER_ROW, index % TOKENS_PER_ROW] = value
        text[index // TOKENS_PER_ROW][index % TOKENS_PER_ROW] = labels[index]
    bound = float(np.abs(values).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=z.tolist(),
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=TOKEN_FONT_SIZE),
            customdata=[[f"{v:+.4f}" if np.isfinite(v) else "" for v in row] for row in z],
            colorscale=ATTRIBUTION_SCALE,
            zmin=-bound,
            zmax=bound,
            xgap=3,
            ygap=3,
            colorbar=dict(title="effect", thickness=12),
            hovertemplate="%{text}: %{customdata}<extra></extra>",
        )
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    return _layout(figure, f"What moved p({plain(class_name)})", height=110 + 46 * rows)
