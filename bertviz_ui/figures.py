"""Headline figures (``st.metric``) in a row that wraps: each as wide as its value needs, so no
figure is ever cut off ("110,106…") on the 1024 px screens workshops project on."""

from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st

from bertviz_core.training_notes import Figure


def figure_width(label: str, value: str) -> int:
    """Pixels a figure needs: its value at 36 px (measured in Chromium: about 16.4 px a character,
    17 kept), or its label at 14 px and the help icon, whichever is wider."""
    return max(17 * len(value) + 8, 8 * len(label) + 34, 120)


def figure_row(figures: Sequence[Figure], key: str) -> None:
    """The figures side by side while they fit, on further lines when they do not."""
    row = st.container(horizontal=True, gap="medium", key=key)
    for figure in figures:
        cell = row.container(width=figure_width(figure.label, figure.value))
        cell.metric(figure.label, figure.value, help=figure.help)
        if figure.caption:
            cell.caption(figure.caption)


# A browser loads Plotly's JavaScript (4.7 MB) when its first chart arrives, and Chromium runs all of
# it before painting anything that arrived with it: on a fresh visit the explorer's headline waited
# 1.1-1.2 s for Plotly, the training page's data preview 1.5 s. So a session's first chart waits
# until the browser has had time to lay out the figures above it (the chunks of a page's widgets
# load in 0.3-0.5 s on 2 cores). benchmarks/latency.py, the explorer's headline on screen: 3.06 s
# without the pause and 1.59-1.62 s with it on a fresh server, 2.71 and 1.26-1.28 s on its second
# visit (docs/performance.md); the page is complete at about the same time, as the browser's time for Plotly
# is the same. The script thread sleeps (no CPU), once per session.
FIRST_CHART_SECONDS = 0.8
FIRST_CHART_SENT = "first_chart_sent"


def before_first_chart() -> None:
    """Called before a page's first chart: pauses on a session's first chart in a real browser.

    AppTest has no browser and sends no headers, so tests run without the pause."""
    if st.session_state.get(FIRST_CHART_SENT):
        return
    st.session_state[FIRST_CHART_SENT] = True
    if st.context.headers:
        time.sleep(FIRST_CHART_SECONDS)


# The layer table's columns, most telling first, with the widths (px) that keep the first four
# readable without scrolling where the table is 820 px wide (1280 px screens, sidebar open); the
# long "Connected to" comes last, where scrolling reaches it.
LAYER_TABLE_WIDTHS = {"Layer (type)": 390, "Param #": 100, "Output Shape": 190, "Component": 120,
                      "Formula": 260, "Connected to": 260}  # fmt: skip
KEY_LAYER_COLUMNS = ("Layer (type)", "Param #", "Output Shape", "Component")


def layer_table_columns(columns: Sequence[str]) -> dict:
    """``st.dataframe`` arguments for a layer table with these ``columns``: order and widths."""
    order = [name for name in LAYER_TABLE_WIDTHS if name in columns]
    config = {name: st.column_config.Column(width=LAYER_TABLE_WIDTHS[name]) for name in order}
    config["Param #"] = st.column_config.NumberColumn(format="localized", width=LAYER_TABLE_WIDTHS["Param #"])
    return {"column_order": order, "column_config": config}
