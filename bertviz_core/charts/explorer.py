"""Plotly figures for the explorer, built from plain data (rows, dicts) so tests need no browser.

Inputs come from ``params`` (``LayerRow.as_dict()`` rows, ``block_totals``) and ``growth``
(sweeps). Every chart colours a component the same way, so the eye can follow "feed-forward"
from one chart to the next.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from bertviz_core.arithmetic.params import COMPONENTS
from bertviz_core.text import format_bytes, format_count, format_flops

COMPONENT_COLORS: dict[str, str] = {
    "embeddings": "#4c78a8",
    "attention": "#f58518",
    "feed-forward": "#54a24b",
    "layer norms": "#b279a2",
    "pretraining heads": "#e45756",
    "inputs": "#9d755d",
}

# More bars than this and the names no longer fit under them: hover shows them instead.
_MAX_LABELLED_BARS = 40

_LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
    "height": 440,
    # The title sits at the top of the margin and the legend just above the plot, below it.
    "legend": {
        "orientation": "h",
        "yanchor": "bottom",
        "y": 1.01,
        "xanchor": "left",
        "x": 0,
        "traceorder": "normal",
    },
    "separators": ".,",
}


def _title(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "font": {"size": 15},
        "x": 0,
        "xanchor": "left",
        "xref": "paper",
        "y": 0.97,
        "yanchor": "top",
    }


def _figure(traces: Sequence[Any], **layout: Any) -> go.Figure:
    """One figure from its traces and layout at once, on the shared layout.

    Built in one go rather than by ``add_trace`` and ``update_layout``: plotly validates each of
    those calls again, which made the layer chart 4-7 times slower to build, on every slider move.
    """
    return go.Figure(data=list(traces), layout={**_LAYOUT, **layout})


def _present_components(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {row["component"] for row in rows if row["params"]}
    return [component for component in COMPONENTS if component in present]


def layer_bar(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Parameters per keras-bert layer, in model order, one colour per component.

    ``rows`` are ``LayerRow.as_dict()`` dicts; layers without weights are left out.
    """
    weighted = [row for row in rows if row["params"]]
    names = [row["name"] for row in weighted]
    traces = []
    for component in _present_components(weighted):
        mine = [row for row in weighted if row["component"] == component]
        traces.append(
            go.Bar(
                x=[row["name"] for row in mine],
                y=[row["params"] for row in mine],
                name=component,
                marker_color=COMPONENT_COLORS[component],
                customdata=[[row["type"], row["formula"]] for row in mine],
                hovertemplate="%{x} (%{customdata[0]})<br>%{y:,} parameters<br>%{customdata[1]}<extra></extra>",
            )
        )
    many = len(names) > _MAX_LABELLED_BARS
    return _figure(
        traces,
        barmode="stack",  # one bar per layer: stacking only keeps each bar full width
        title=_title("Parameters per layer (layers without weights left out)"),
        xaxis={
            "categoryorder": "array",
            "categoryarray": names,
            "showticklabels": not many,
            "tickangle": -45,
            "title": {"text": "keras-bert layers in model order (hover for names)" if many else ""},
        },
        yaxis={"title": {"text": "parameters"}, "tickformat": ",d"},
    )


_BLOCK_NUMBER = re.compile(r"^Encoder-\d+-")


def _layer_kind(name: str) -> str:
    """The layer's name with its block number removed, so the L copies group together."""
    return _BLOCK_NUMBER.sub("Encoder-N-", name)


def component_treemap(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Share of the parameters per component, and inside each component per kind of layer."""
    kinds: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row["params"]:
            kinds.setdefault((row["component"], _layer_kind(row["name"])), []).append(row["params"])
    total = sum(sum(counts) for counts in kinds.values())
    ids, labels, parents, values, colors = ["model"], ["all parameters"], [""], [total], ["#ffffff"]
    for component in _present_components(rows):
        ids.append(component)
        labels.append(component)
        parents.append("model")
        values.append(sum(sum(counts) for (owner, _), counts in kinds.items() if owner == component))
        colors.append(COMPONENT_COLORS[component])
        for (owner, kind), counts in kinds.items():
            if owner != component:
                continue
            ids.append(f"{component}/{kind}")
            labels.append(kind if len(counts) == 1 else f"{kind} (×{len(counts)})")
            parents.append(component)
            values.append(sum(counts))
            colors.append(COMPONENT_COLORS[component])
    treemap = go.Treemap(
        ids=ids,
        labels=labels,
        parents=parents,
        values=values,
        branchvalues="total",
        marker={"colors": colors},
        texttemplate="%{label}<br>%{value:,}<br>%{percentRoot:.1%}",
        hovertemplate="%{label}<br>%{value:,} parameters<br>%{percentRoot:.2%} of the model<extra></extra>",
        maxdepth=3,
    )
    return _figure([treemap], title=_title("Share per component (click a box to zoom in)"))


def block_stack(blocks: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Parameters per block (embeddings, each encoder layer, heads), stacked by component.

    ``blocks`` are ``params.block_totals`` dicts: {"block": label, component: count, ...}.
    """
    labels = [block["block"] for block in blocks]
    traces = []
    for component in COMPONENTS:
        counts = [int(block.get(component, 0)) for block in blocks]
        if not any(counts):
            continue
        traces.append(
            go.Bar(
                x=labels,
                y=counts,
                name=component,
                marker_color=COMPONENT_COLORS[component],
                hovertemplate="%{x}<br>" + component + ": %{y:,}<extra></extra>",
            )
        )
    return _figure(
        traces,
        barmode="stack",
        title=_title("Parameters per block, stacked by component"),
        xaxis={
            "categoryorder": "array",
            "categoryarray": labels,
            "showticklabels": len(labels) <= _MAX_LABELLED_BARS,
        },
        yaxis={"title": {"text": "parameters"}, "tickformat": ",d"},
    )


def growth_line(sweep: Mapping[str, Any]) -> go.Figure:
    """The total along one setting (a ``growth.sweep``), with the current configuration marked."""
    line = go.Scatter(
        x=sweep["values"],
        y=sweep["totals"],
        mode="lines",
        name="total parameters",
        line={"color": COMPONENT_COLORS["embeddings"], "width": 2},
        hovertemplate=sweep["label"] + " = %{x:,}<br>%{y:,} parameters<extra></extra>",
    )
    current = go.Scatter(
        x=[sweep["current_value"]],
        y=[sweep["current_total"]],
        mode="markers+text",
        name="current configuration",
        marker={"color": COMPONENT_COLORS["pretraining heads"], "size": 12, "symbol": "circle"},
        text=[format_count(sweep["current_total"])],
        textposition="top left",
        hovertemplate="current: " + sweep["label"] + " = %{x:,}<br>%{y:,} parameters<extra></extra>",
    )
    return _figure(
        [line, current],
        title=_title(f"Total parameters along the {sweep['label']} ({sweep['trend']})"),
        xaxis={"title": {"text": sweep["label"]}, "tickformat": ",d"},
        yaxis={"title": {"text": "parameters"}, "tickformat": ",d", "rangemode": "tozero"},
    )


def sequence_lines(sweep: Mapping[str, Any]) -> go.Figure:
    """Along the sequence length: parameters stay flat while activations and attention grow.

    Each line is relative to its value at the current length (1 = now), so four different units
    share one axis; hover shows the absolute numbers.
    """
    index = sweep["values"].index(sweep["current_value"])
    # Dashes keep a line visible where two of them coincide (activations and all FLOPs often do).
    series = (
        ("parameters", sweep["totals"], format_count, COMPONENT_COLORS["embeddings"], "solid"),
        (
            "activation memory per sequence",
            sweep["activation_bytes"],
            format_bytes,
            COMPONENT_COLORS["feed-forward"],
            "solid",
        ),
        (
            "attention-score FLOPs (S²)",
            sweep["attention_flops"],
            format_flops,
            COMPONENT_COLORS["attention"],
            "solid",
        ),
        (
            "forward FLOPs per sequence",
            sweep["forward_flops"],
            format_flops,
            COMPONENT_COLORS["layer norms"],
            "dash",
        ),
    )
    traces = []
    for name, values, formatter, color, dash in series:
        now = values[index] or 1
        traces.append(
            go.Scatter(
                x=sweep["values"],
                y=[value / now for value in values],
                mode="lines",
                name=name,
                line={"color": color, "width": 2, "dash": dash},
                customdata=[formatter(value) for value in values],
                hovertemplate="S = %{x:,}: %{customdata} (×%{y:.2f})<extra>" + name + "</extra>",
            )
        )
    traces.append(
        go.Scatter(
            x=[sweep["current_value"]],
            y=[1],
            mode="markers",
            name="current sequence length",
            marker={"color": COMPONENT_COLORS["pretraining heads"], "size": 12},
            hovertemplate="current: S = %{x:,}<extra></extra>",
        )
    )
    return _figure(
        traces,
        title=_title("Along the sequence length S (up to the position count P)"),
        xaxis={"title": {"text": "sequence length S"}, "tickformat": ",d"},
        yaxis={"title": {"text": f"× the value at S = {sweep['current_value']:,}"}, "rangemode": "tozero"},
    )
