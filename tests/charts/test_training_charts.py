"""The training page's chart builders return figures holding the data they were given."""

from __future__ import annotations

import math

import pytest

from bertviz_core.charts import training as train_charts


def test_class_balance_chart_has_one_bar_per_class():
    figure = train_charts.class_balance_chart(["negative", "positive"], [30, 70])

    (bar,) = figure.data
    assert list(bar.x) == ["negative", "positive"]
    assert list(bar.y) == [30, 70]
    assert [row[0] for row in bar.customdata] == pytest.approx([0.3, 0.7])
    assert figure.layout.xaxis.type == "category"


def test_numeric_class_names_stay_categories():
    figure = train_charts.class_balance_chart(["1", "2", "10"], [5, 5, 5])

    assert list(figure.data[0].x) == ["1", "2", "10"]
    assert figure.layout.xaxis.type == "category"


def test_class_names_are_shown_literally_not_as_html():
    figure = train_charts.class_balance_chart(["<b>bold</b>", "a & b"], [1, 2])

    assert list(figure.data[0].x) == ["&lt;b&gt;bold&lt;/b&gt;", "a &amp; b"]


def test_names_that_collide_after_shortening_stay_distinct():
    long_a = "x" * 60 + "a"
    long_b = "x" * 60 + "b"
    figure = train_charts.class_balance_chart([long_a, long_b], [1, 1])

    names = list(figure.data[0].x)
    assert len(set(names)) == 2
    assert all(len(name) <= train_charts.LABEL_CHARS + 4 for name in names)


def test_class_balance_chart_refuses_mismatched_lengths():
    with pytest.raises(ValueError):
        train_charts.class_balance_chart(["a", "b"], [1])


def test_token_length_histogram_splits_texts_at_the_sequence_length():
    lengths = [5, 8, 10, 12, 30, 64, 65, 80]
    figure = train_charts.token_length_histogram(lengths, seq_len=64)

    fits, cut = figure.data
    assert list(fits.x) == [5, 8, 10, 12, 30, 64]
    assert list(cut.x) == [65, 80]
    (line,) = figure.layout.shapes
    assert line.x0 == pytest.approx(64.5)
    assert "sequence length 64" in figure.layout.annotations[0].text
    assert "2 of 8 texts cut off" in figure.layout.title.text


def test_token_length_histogram_handles_no_texts():
    figure = train_charts.token_length_histogram([], seq_len=16)

    assert [len(trace.x) for trace in figure.data] == [0, 0]
    assert "0 of 0" in figure.layout.title.text


def test_training_curves_plot_train_and_validation_per_epoch():
    history = [
        {"epoch": 1, "loss": 0.9, "accuracy": 0.5, "val_loss": 0.8, "val_accuracy": 0.55},
        {"epoch": 2, "loss": 0.6, "accuracy": 0.7, "val_loss": float("nan"), "val_accuracy": 0.65},
    ]
    figure = train_charts.training_curves(history, epochs=5)

    by_key = {(trace.name, trace.xaxis): trace for trace in figure.data}
    assert list(by_key[("training", "x")].y) == [0.9, 0.6]
    assert list(by_key[("validation", "x")].y) == [0.8, None]  # NaN is a gap, not a point
    assert list(by_key[("training", "x2")].y) == [0.5, 0.7]
    assert list(by_key[("validation", "x2")].y) == [0.55, 0.65]
    assert list(by_key[("training", "x")].x) == [1, 2]
    assert tuple(figure.layout.xaxis.range) == (0.5, 5.5)


def test_training_curves_start_empty():
    figure = train_charts.training_curves([], epochs=3)

    assert len(figure.data) == 4
    assert all(len(trace.x) == 0 for trace in figure.data)


def test_per_class_scores_chart_has_precision_and_recall_bars():
    per_class = [
        {"class": "a", "precision": 0.5, "recall": 1.0, "f1": 0.667, "support": 2},
        {"class": "b", "precision": 1.0, "recall": 0.25, "f1": 0.4, "support": 4},
    ]
    figure = train_charts.per_class_scores_chart(per_class)

    precision, recall = figure.data
    assert (precision.name, recall.name) == ("precision", "recall")
    assert list(precision.y) == [0.5, 1.0]
    assert list(recall.y) == [1.0, 0.25]
    assert list(precision.x) == ["a", "b"]
    assert figure.layout.barmode == "group"


def test_probability_chart_highlights_the_most_likely_class():
    figure = train_charts.probability_chart(["a", "b", "c"], [0.2, 0.7, 0.1])

    (bar,) = figure.data
    assert list(bar.x) == pytest.approx([0.2, 0.7, 0.1])
    assert list(bar.y) == ["a", "b", "c"]
    colors = list(bar.marker.color)
    assert colors[1] == train_charts.TRAIN_COLOR
    assert colors[0] == colors[2] != train_charts.TRAIN_COLOR
    assert math.isclose(sum(bar.x), 1.0)


def test_compared_runs_share_one_colour_per_run_across_both_panels():
    history = [
        {"epoch": 1, "val_loss": 0.6, "val_accuracy": 0.7},
        {"epoch": 2, "val_loss": 0.5, "val_accuracy": 0.8},
    ]
    figure = train_charts.compared_runs_chart(
        {"10:00 · from scratch": history, "<b>10:05</b> · bert": history[:1]}
    )
    assert len(figure.data) == 4
    names = [trace.name for trace in figure.data]
    assert names == ["10:00 · from scratch"] * 2 + ["&lt;b&gt;10:05&lt;/b&gt; · bert"] * 2
    assert figure.data[0].line.color == figure.data[1].line.color != figure.data[2].line.color
    assert list(figure.data[3].y) == [0.7]


def test_pretraining_curves_show_loss_and_masked_word_accuracy():
    history = [
        {"epoch": 1, "loss": 7.1, "mlm_accuracy": 0.05},
        {"epoch": 2, "loss": 6.0, "mlm_accuracy": None},
    ]
    figure = train_charts.pretraining_curves(history, epochs=5)
    assert [list(trace.y) for trace in figure.data] == [[7.1, 6.0], [0.05, None]]
    assert tuple(figure.layout.xaxis.range) == (0.5, 5.5)
