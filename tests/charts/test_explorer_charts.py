"""Figure builders and sweeps: plain data in, plotly figures out, values checked without a browser."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from bertviz_core.arithmetic import growth
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import block_totals, component_totals, layer_rows, total_params
from bertviz_core.charts import explorer as charts

NOTEBOOK_LAST = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
CONFIGS = [
    ModelConfig(),
    NOTEBOOK_LAST,
    ModelConfig(encoder_only=True, layers=3, embed_dim=96, heads=3, ff_dim=384),
]


def _rows(config: ModelConfig) -> list[dict]:
    return [row.as_dict() for row in layer_rows(config)]


@pytest.mark.parametrize("config", CONFIGS)
def test_layer_bar_sums_to_the_total_with_one_trace_per_component(config: ModelConfig) -> None:
    figure = charts.layer_bar(_rows(config))
    assert isinstance(figure, go.Figure)
    assert sum(sum(trace.y) for trace in figure.data) == total_params(config)
    totals = component_totals(config)
    assert {trace.name: sum(trace.y) for trace in figure.data} == {k: v for k, v in totals.items() if v}
    # Bars keep keras-bert's names, in model order, and no weightless layer gets a bar.
    order = list(figure.layout.xaxis.categoryarray)
    assert order == [row.name for row in layer_rows(config) if row.params]
    assert "Encoder-1-FeedForward" in order and "Encoder-1-FeedForward-Dropout" not in order
    for trace in figure.data:
        assert trace.marker.color == charts.COMPONENT_COLORS[trace.name]


def test_layer_bar_hides_names_when_there_are_too_many() -> None:
    assert charts.layer_bar(_rows(ModelConfig(layers=2))).layout.xaxis.showticklabels is True
    assert charts.layer_bar(_rows(ModelConfig(layers=24))).layout.xaxis.showticklabels is False


@pytest.mark.parametrize("config", CONFIGS)
def test_treemap_components_add_up(config: ModelConfig) -> None:
    figure = charts.component_treemap(_rows(config))
    treemap = figure.data[0]
    assert isinstance(treemap, go.Treemap)
    values = dict(zip(treemap.ids, treemap.values, strict=True))
    assert values["model"] == total_params(config)
    for component, count in component_totals(config).items():
        if count:
            assert values[component] == count
        else:
            assert component not in values
    # The L copies of a layer are grouped under one box.
    label = dict(zip(treemap.ids, treemap.labels, strict=True))["feed-forward/Encoder-N-FeedForward"]
    assert label.endswith(f"(×{config.layers})")


def test_block_stack_matches_block_totals() -> None:
    config = ModelConfig(layers=4, embed_dim=256, heads=4, ff_dim=1024)
    figure = charts.block_stack(block_totals(config))
    assert list(figure.data[0].x) == [
        "Embeddings",
        "Encoder-1",
        "Encoder-2",
        "Encoder-3",
        "Encoder-4",
        "Heads",
    ]
    assert sum(sum(trace.y) for trace in figure.data) == total_params(config)
    assert figure.layout.barmode == "stack"


def _is_linear(values: list[int], totals: list[int]) -> bool:
    slope = (totals[1] - totals[0]) / (values[1] - values[0])
    return all(
        total == totals[0] + slope * (value - values[0]) for value, total in zip(values, totals, strict=True)
    )


def test_vocabulary_curve_is_linear_and_marks_the_current_point() -> None:
    sweep = growth.sweep(NOTEBOOK_LAST, "vocab")
    assert _is_linear(sweep["values"], sweep["totals"])
    assert sweep["trend"] == "linear"
    assert "7 parameters" in sweep["note"]  # d + 1 MLM bias per token
    figure = charts.growth_line(sweep)
    line, marker = figure.data
    assert list(marker.x) == [1000] and list(marker.y) == [491_814]
    assert 1000 in line.x


def test_embedding_curve_is_quadratic() -> None:
    config = ModelConfig()
    sweep = growth.sweep(config, "embed_dim")
    values, totals = sweep["values"], sweep["totals"]
    assert not _is_linear(values, totals)
    # Every total lies on one parabola a·d² + b·d + c (fitted exactly through three points).
    (x0, x1, x2), (y0, y1, y2) = values[:3], totals[:3]
    a = ((y2 - y0) / (x2 - x0) - (y1 - y0) / (x1 - x0)) / (x2 - x1)
    b = (y1 - y0) / (x1 - x0) - a * (x0 + x1)
    c = y0 - a * x0**2 - b * x0
    assert a == pytest.approx(4 * config.layers + 2)  # 4 d×d per layer, MLM and NSP dense layers
    for value, total in zip(values, totals, strict=True):
        assert total == pytest.approx(a * value**2 + b * value + c, rel=1e-9)
    assert f"{4 * config.layers + 2:,}·d²" in sweep["note"]
    assert charts.growth_line(sweep).data[1].x[0] == 768


@pytest.mark.parametrize("knob", list(growth.KNOBS))
def test_every_sweep_is_light_valid_and_includes_the_current_value(knob: str) -> None:
    for config in CONFIGS + [ModelConfig(vocab=1_000_000, embed_dim=8192, heads=128, ff_dim=65536, layers=96,
                                         pos_num=8192, seq_len=8192)]:  # fmt: skip
        sweep = growth.sweep(config, knob)
        assert len(sweep["values"]) <= 101
        assert sweep["values"] == sorted(set(sweep["values"]))
        assert getattr(config, knob) in sweep["values"]
        assert sweep["current_total"] == total_params(config)
        figure = charts.growth_line(sweep)
        assert len(figure.data[0].x) == len(sweep["values"])


def test_sequence_length_changes_no_parameter_but_grows_activations_and_attention() -> None:
    config = ModelConfig(vocab=1000, seq_len=36)
    sweep = growth.sequence_sweep(config)
    assert sweep["values"][0] == 1 and sweep["values"][-1] == config.pos_num
    assert 36 in sweep["values"] and len(sweep["values"]) <= 41
    assert set(sweep["totals"]) == {total_params(config)}
    assert sweep["activation_bytes"] == sorted(sweep["activation_bytes"])
    assert sweep["activation_bytes"][0] < sweep["activation_bytes"][-1]
    # Attention scores grow with S²: doubling S multiplies them by four.
    by_length = dict(zip(sweep["values"], sweep["attention_flops"], strict=True))
    assert (
        by_length[config.pos_num]
        == 4 * growth.sequence_sweep(config.with_changes(pos_num=256, seq_len=256))["attention_flops"][-1]
    )
    figure = charts.sequence_lines(sweep)
    names = [trace.name for trace in figure.data]
    assert names[:4] == [
        "parameters", "activation memory per sequence", "attention-score FLOPs (S²)", "forward FLOPs per sequence",
    ]  # fmt: skip
    assert set(figure.data[0].y) == {1.0}  # flat, relative to now
    index = list(figure.data[1].x).index(36)
    assert all(trace.y[index] == pytest.approx(1.0) for trace in figure.data[:4])
    assert list(figure.data[4].x) == [36]


def test_pos_num_sweep_starts_at_the_sequence_length() -> None:
    sweep = growth.sweep(ModelConfig(seq_len=100, pos_num=200), "pos_num")
    assert sweep["values"][0] == 100
    assert _is_linear(sweep["values"], sweep["totals"])


def test_unknown_knob_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown setting"):
        growth.sweep(ModelConfig(), "heads")
