"""The size ladder's chart (``charts.ladder``), from a report's plain data."""

from __future__ import annotations

import math

import pytest

from bertviz_core.charts.ladder import ladder_chart
from bertviz_core.ladder import ladder_report
from tests.test_ladder import _result

BASELINES = {"tfidf_baseline": 0.61, "tfidf_macro_f1": 0.6, "majority_baseline": 0.25, "majority_class": "a"}


def report():
    runs = [
        _result("tiny", 40_000, 0.695),
        _result("<b>mid</b>", 200_000, 0.60),
        _result("big", 1_000_000, 0.70),
    ]
    return ladder_report(runs, BASELINES)


def test_points_open_their_runs_on_a_log_axis_with_the_front_and_the_baselines():
    figure = ladder_chart(report(), run_ids=["r1", "r2", "r3"])
    front, points = figure.data[0], figure.data[1]
    assert figure.layout.xaxis.type == "log"
    assert list(points.x) == [40_000, 200_000, 1_000_000] and [row[0] for row in points.customdata] == [
        "r1",
        "r2",
        "r3",
    ]
    assert list(front.x) == [40_000, 1_000_000]  # the middle size is beaten by the smallest
    low, high = figure.layout.xaxis.range
    assert low < math.log10(40_000) and high > math.log10(1_000_000)
    lines = sorted(shape.y0 for shape in figure.layout.shapes)
    assert lines == [0.25, 0.61]
    assert "&lt;b&gt;mid&lt;/b&gt;" in points.text[1]  # a name is shown literally


def test_against_file_bytes_the_int8_files_are_points_of_their_own():
    figure = ladder_chart(report(), x="model_bytes")
    int8 = next(trace for trace in figure.data if trace.name == "int8 (TensorFlow Lite)")
    assert list(int8.x) == [70_000, 230_000, 1_030_000] and list(int8.y) == [0.695, 0.60, 0.70]
    assert list(ladder_chart(report(), x="predict_ms_per_text").data[1].x) == [1.5, 1.5, 1.5]
    with pytest.raises(ValueError):
        ladder_chart(report(), x="colour")
