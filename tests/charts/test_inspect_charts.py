"""Attention and attribution figures: shapes, token labels by position, user text escaped."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.charts import inspect as charts

TOKENS = ["[CLS]", "the", "<b>bold</b>", "the", "[SEP]"]


def test_attention_heatmap_labels_every_position_even_repeated_words():
    weights = np.full((5, 5), 0.2)
    figure = charts.attention_heatmap(TOKENS, weights, "Encoder-1-MultiHeadSelfAttention, head 1")
    axis = figure.layout.xaxis
    assert list(axis.tickvals) == [0, 1, 2, 3, 4]
    assert list(axis.ticktext) == ["[CLS]", "the", "&lt;b&gt;bold&lt;/b&gt;", "the", "[SEP]"]
    assert figure.data[0].zmin == 0 and figure.data[0].zmax == 1
    with pytest.raises(ValueError):
        charts.attention_heatmap(TOKENS, np.ones((4, 4)), "x")


def test_attention_grid_has_one_map_per_layer_and_head_with_its_tokens_on_the_edges():
    tokens = ["[CLS]", "a", "<b>", "film", "[SEP]"]
    figure = charts.attention_grid(tokens, np.random.default_rng(0).random((3, 4, 5, 5)))
    assert len(figure.data) == 12
    titles = {annotation.text for annotation in figure.layout.annotations}
    assert {"Encoder-1", "Encoder-3", "head 1", "head 4"} <= titles
    assert list(figure.layout.yaxis.ticktext) == ["[CLS]", "a", "&lt;b&gt;", "film", "[SEP]"]  # escaped
    assert figure.layout.yaxis.showticklabels and not figure.layout.yaxis2.showticklabels  # the first column
    bottom = figure.layout[f"xaxis{3 * 4}"]  # the last row's last head
    assert bottom.showticklabels and not figure.layout.xaxis.showticklabels
    assert figure.data[0].customdata[0][3] == ["[CLS]", "film"] and "looks at" in figure.data[0].hovertemplate
    many = charts.attention_grid([f"t{i}" for i in range(30)], np.zeros((1, 1, 30, 30)))
    assert not many.layout.yaxis.showticklabels  # too many to read: the hover names them
    with pytest.raises(ValueError):
        charts.attention_grid(tokens, np.zeros((1, 1, 4, 4)))


def test_attribution_tokens_wrap_in_reading_order_with_escaped_text():
    tokens = [f"w{i}" for i in range(23)] + ["<script>"]
    values = np.linspace(-1, 1, 24)
    figure = charts.attribution_tokens(tokens, values, "<i>pos</i>")
    heatmap = figure.data[0]
    assert np.asarray(heatmap.z).shape == (3, charts.TOKENS_PER_ROW)
    row, column = divmod(23, charts.TOKENS_PER_ROW)
    assert heatmap.text[0][0] == "w0" and heatmap.text[row][column] == "&lt;script&gt;"
    assert heatmap.zmin == -1 and heatmap.zmax == 1  # symmetric, so white is zero
    assert "<i>" not in figure.layout.title.text
    with pytest.raises(ValueError):
        charts.attribution_tokens(tokens, values[:-1], "pos")
