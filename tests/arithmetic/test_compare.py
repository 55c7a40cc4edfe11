"""A against B: the totals, components and layers of two configurations, and the comparison's CSV.

The counts are checked against the figures real keras-bert builds gave (FIELD_NOTES: BERT-base
110,106,428 and the notebook's last model 491,814), and every other figure against the function the
explorer's headline uses for it (training memory: ``memory.explorer_training_memory``, in MB), so the comparison cannot drift from what each side shows alone.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from bertviz_core.arithmetic import compare as compare_module
from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.compare import CSV_COLUMNS, ONLY_A, ONLY_B, compare
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import COMPONENTS, layer_rows, total_params
from bertviz_core.arithmetic.training_memory import explorer_training_memory
from bertviz_core.data.export import to_safe_csv

BERT_BASE = ModelConfig()
NOTEBOOK = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)


def _by_name(rows) -> dict:
    return {row.name: row for row in rows}


def test_bert_base_against_the_notebooks_model() -> None:
    comparison = compare(BERT_BASE, NOTEBOOK, batch_size=8)
    totals = _by_name(comparison.totals)
    params = totals["Parameters"]
    assert (params.a, params.b) == (110_106_428, 491_814)  # model.count_params() of the real builds
    assert params.difference == 491_814 - 110_106_428 == -109_614_614
    assert params.ratio == pytest.approx(491_814 / 110_106_428)
    weights = totals["Weights (fp32)"]
    assert (weights.a, weights.b) == (4 * 110_106_428, 4 * 491_814)
    memory = totals["Training memory (batch 8)"]  # the headline's figure, in its MB
    assert memory.unit == "MB"
    assert memory.a == explorer_training_memory(BERT_BASE, batch_size=8).total_mb
    assert memory.b == explorer_training_memory(NOTEBOOK, batch_size=8).total_mb
    assert memory.difference == memory.b - memory.a < 0
    forward, training = totals["Forward FLOPs per sequence"], totals["Training FLOPs per sequence"]
    assert (forward.a, forward.b) == (costs.compute(BERT_BASE).forward, costs.compute(NOTEBOOK).forward)
    assert (training.a, training.b) == (3 * forward.a, 3 * forward.b)

    components = _by_name(comparison.per_component)
    assert list(components) == list(COMPONENTS)
    assert components["feed-forward"].b == 479_304  # 12 × (2·6·3,072 + 3,072 + 6), the notebook's bulk
    assert sum(row.difference for row in components.values()) == params.difference
    assert components["inputs"].ratio is None  # zero on both sides: no ratio means anything

    # Same names on both sides (same layer count, both with heads): every layer matched, none alone.
    assert {row.present_in for row in comparison.layers} == {"both"}
    assert [row.name for row in comparison.layers] == [row.name for row in layer_rows(BERT_BASE)]
    changed = _by_name(comparison.changed_layers())
    assert "Embedding-Token" in changed and changed["Embedding-Token"].b == 1000 * 6
    assert "Encoder-1-MultiHeadSelfAttention-Dropout" not in changed  # 0 and 0: not a difference
    assert sum(row.difference for row in comparison.layers) == params.difference


def test_layers_only_in_one_side_are_named_and_placed_in_model_order() -> None:
    a = ModelConfig(vocab=1000, embed_dim=64, heads=4, layers=2, ff_dim=128)
    b = a.with_changes(layers=4, encoder_only=True)
    comparison = compare(a, b)
    layers = comparison.layers
    names = [row.name for row in layers]
    only_b = [row.name for row in layers if row.present_in == ONLY_B]
    only_a = [row.name for row in layers if row.present_in == ONLY_A]
    assert only_b == [row.name for row in layer_rows(b) if row.block in (3, 4)]
    assert len(only_b) == 16  # eight layers per encoder block
    assert set(only_a) == {
        "MLM-Dense",
        "MLM-Norm",
        "Extract",
        "MLM-Sim",
        "Input-Masked",
        "NSP-Dense",
        "MLM",
        "NSP",
    }
    # Encoder-3 follows Encoder-2 (as in B), the heads stay after the encoder (as in A).
    assert names.index("Encoder-3-MultiHeadSelfAttention") == names.index("Encoder-2-FeedForward-Norm") + 1
    assert names.index("MLM-Dense") > names.index("Encoder-4-FeedForward-Norm")
    assert len(names) == len(set(names)) == len(layer_rows(a)) + len(only_b)
    block = _by_name(layers)["Encoder-3-FeedForward"]
    assert (block.a, block.b, block.difference, block.ratio) == (
        None,
        64 * 128 + 128 + 128 * 64 + 64,
        block.b,
        None,
    )
    nsp = _by_name(layers)["NSP"]
    assert (nsp.a, nsp.b, nsp.difference) == (64 * 2 + 2, None, -(64 * 2 + 2))
    # A zero-parameter layer on one side only still differs: it is there or not.
    assert "Input-Masked" in {row.name for row in comparison.changed_layers()}
    assert sum(row.difference for row in layers) == total_params(b) - total_params(a)


def test_a_configuration_against_itself_differs_nowhere() -> None:
    comparison = compare(NOTEBOOK, NOTEBOOK)
    assert comparison.changed_layers() == ()
    for row in (*comparison.settings, *comparison.totals, *comparison.per_component, *comparison.layers):
        assert row.difference == 0 and not row.differs, row
        assert row.ratio in (None, 1.0)


def test_the_training_memory_row_is_the_one_swappable_function(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another memory model plugged in at the one place changes the comparison's row, nothing else.
    monkeypatch.setattr(
        compare_module, "training_memory_mb", lambda config, batch_size: total_params(config) + batch_size
    )
    totals = _by_name(compare(BERT_BASE, NOTEBOOK, batch_size=3).totals)
    assert (totals["Training memory (batch 3)"].a, totals["Training memory (batch 3)"].b) == (
        110_106_431,
        491_817,
    )
    assert totals["Parameters"].a == 110_106_428


def test_the_csv_holds_every_row_and_reads_back_through_pandas() -> None:
    a, b = NOTEBOOK, NOTEBOOK.with_changes(layers=13, encoder_only=True)
    comparison = compare(a, b, batch_size=16)
    raw = to_safe_csv(comparison.frame())
    assert raw.startswith(",".join(CSV_COLUMNS).encode() + b"\r\n")
    read = pd.read_csv(io.BytesIO(raw))
    assert list(read.columns) == list(CSV_COLUMNS)
    sections = read["section"].value_counts().to_dict()
    assert sections == {"setting": 8, "total": 5, "component": 6, "layer": len(layer_rows(a)) + 8}
    assert len(read) == len(comparison.csv_rows())

    rows = read.set_index(["section", "name"])
    assert rows.loc[("setting", "layers"), ["A", "B", "B - A"]].tolist() == [12, 13, 1]
    assert rows.loc[("setting", "pretraining heads"), ["A", "B"]].tolist() == [1, 0]
    assert rows.loc[("total", "Parameters"), ["A", "B"]].tolist() == [491_814, total_params(b)]
    memory = rows.loc[("total", "Training memory (batch 16)")]
    assert memory["A"] == explorer_training_memory(a, batch_size=16).total_mb and memory["unit"] == "MB"
    new_block = rows.loc[("layer", "Encoder-13-FeedForward")]
    assert pd.isna(new_block["A"]) and new_block["B"] == new_block["B - A"] == 2 * 6 * 3072 + 3072 + 6
    assert new_block["present in"] == "only B" and pd.isna(new_block["B / A"])
    assert rows.loc[("layer", "NSP"), "present in"] == "only A"

    # Exactly the comparison's table, once the gaps are read back as missing whole numbers.
    read["unit"] = read["unit"].fillna("")
    read = read.astype({"A": "Int64", "B": "Int64", "B - A": "Int64"})
    pd.testing.assert_frame_equal(read, comparison.frame())
