"""Headline figures (``st.metric``) in a row that wraps: each as wide as its value needs, so no
figure is ever cut off ("110,106…") on the 1024 px screens workshops project on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    help: str | None = None
    caption: str | None = None


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
