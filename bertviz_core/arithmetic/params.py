"""Where a keras-bert model's parameters sit, by arithmetic: one row per keras-bert layer.

Nothing here builds a model or imports TensorFlow. The rows follow ``model.layers`` of
``keras_bert.get_model`` (names, class names, order, output shapes, inbound layers), and
``tests/test_params.py`` checks them against real builds for many random configurations.

Notation used in formulas (also shown in the app): V vocabulary, S sequence length, P position
count, d embedding dimension, A heads, L layers, F feed-forward width.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bertviz_core.arithmetic.config import ModelConfig

SEGMENT_COUNT = 2  # keras-bert's segment vocabulary is fixed at two sentences (A and B)
NSP_CLASSES = 2  # next-sentence prediction: is-next or not

# Component names, in the order charts list them.
COMPONENTS = ("embeddings", "attention", "feed-forward", "layer norms", "pretraining heads", "inputs")


@dataclass(frozen=True)
class LayerRow:
    """One keras-bert layer as ``model.summary()`` shows it, plus where it belongs."""

    name: str
    type: str  # keras-bert's class name (TokenEmbedding, MultiHeadAttention, ...)
    params: int
    component: str  # one of COMPONENTS
    block: int | None  # encoder block (1..L); 0 for the embeddings; None for inputs and heads
    formula: str  # how ``params`` is counted, in the notation above
    output_shape: tuple  # as Keras reports it, batch as None; a list of shapes for TokenEmbedding
    inbound: tuple[str, ...]  # names of the layers feeding this one (summary's "Connected to")
    activation_values: int  # values this layer outputs for one sequence (not weights)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "params": self.params,
            "component": self.component,
            "block": self.block,
            "formula": self.formula,
            "output_shape": shape_text(self.output_shape),
            "connected_to": list(self.inbound),
        }


def shape_text(shape: tuple | list) -> str:
    """A shape as Keras prints it: (None, 36, 6), or [...] for a layer with several outputs."""
    if isinstance(shape, list):
        return "[" + ", ".join(shape_text(s) for s in shape) + "]"
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + ")"


def _encoder_rows(config: ModelConfig, block: int, previous: str) -> Iterator[LayerRow]:
    d, f, s, h = config.embed_dim, config.ff_dim, config.seq_len, config.heads
    name = f"Encoder-{block}"
    attention, feed_forward = f"{name}-MultiHeadSelfAttention", f"{name}-FeedForward"
    shape = (None, s, d)
    # Query, key, value and output projections, each a d x d matrix with a bias of d.
    # One layer per line: the rows read as model.summary() does.
    # fmt: off
    yield LayerRow(attention, "MultiHeadAttention", 4 * (d * d + d), "attention", block,
                   "4 × (d·d + d)", shape, (previous,), s * d)
    yield LayerRow(f"{attention}-Dropout", "Dropout", 0, "attention", block, "0", shape, (attention,), s * d)
    yield LayerRow(f"{attention}-Add", "Add", 0, "attention", block, "0", shape,
                   (previous, f"{attention}-Dropout"), s * d)
    yield LayerRow(f"{attention}-Norm", "LayerNormalization", 2 * d, "layer norms", block,
                   "2 × d (gain and bias)", shape, (f"{attention}-Add",), s * d)
    yield LayerRow(feed_forward, "FeedForward", d * f + f + f * d + d, "feed-forward", block,
                   "d·F + F + F·d + d", shape, (f"{attention}-Norm",), s * d)
    yield LayerRow(f"{feed_forward}-Dropout", "Dropout", 0, "feed-forward", block, "0", shape,
                   (feed_forward,), s * d)
    yield LayerRow(f"{feed_forward}-Add", "Add", 0, "feed-forward", block, "0", shape,
                   (f"{attention}-Norm", f"{feed_forward}-Dropout"), s * d)
    yield LayerRow(f"{feed_forward}-Norm", "LayerNormalization", 2 * d, "layer norms", block,
                   "2 × d (gain and bias)", shape, (f"{feed_forward}-Add",), s * d)
    # fmt: on
    del h  # heads split d, they do not add weights


@lru_cache(maxsize=256)
def layer_rows(config: ModelConfig) -> tuple[LayerRow, ...]:
    """Every layer of ``get_model(**config.get_model_kwargs())``, in ``model.layers`` order."""
    v, s, p, d = config.vocab, config.seq_len, config.pos_num, config.embed_dim
    seq = (None, s, d)
    # fmt: off
    rows = [
        LayerRow("Input-Token", "InputLayer", 0, "inputs", None, "0", [(None, s)], (), s),
        LayerRow("Input-Segment", "InputLayer", 0, "inputs", None, "0", [(None, s)], (), s),
        # TokenEmbedding also outputs its weight matrix, which the MLM head reuses (tied weights).
        LayerRow("Embedding-Token", "TokenEmbedding", v * d, "embeddings", 0, "V × d",
                 [seq, (v, d)], ("Input-Token",), s * d),
        LayerRow("Embedding-Segment", "Embedding", SEGMENT_COUNT * d, "embeddings", 0, "2 × d",
                 seq, ("Input-Segment",), s * d),
        LayerRow("Embedding-Token-Segment", "Add", 0, "embeddings", 0, "0", seq,
                 ("Embedding-Token", "Embedding-Segment"), s * d),
        LayerRow("Embedding-Position", "PositionEmbedding", p * d, "embeddings", 0, "P × d", seq,
                 ("Embedding-Token-Segment",), s * d),
        LayerRow("Embedding-Dropout", "Dropout", 0, "embeddings", 0, "0", seq, ("Embedding-Position",), s * d),
        LayerRow("Embedding-Norm", "LayerNormalization", 2 * d, "layer norms", 0, "2 × d (gain and bias)",
                 seq, ("Embedding-Dropout",), s * d),
    ]
    # fmt: on
    previous = "Embedding-Norm"
    for block in range(1, config.layers + 1):
        rows.extend(_encoder_rows(config, block, previous))
        previous = f"Encoder-{block}-FeedForward-Norm"
    if not config.encoder_only:
        heads = "pretraining heads"
        # Keras orders the functional model's layers by depth from the outputs, which puts these
        # in an order that is not the order get_model creates them in.
        # fmt: off
        rows += [
            LayerRow("MLM-Dense", "Dense", d * d + d, heads, None, "d·d + d", seq, (previous,), s * d),
            LayerRow("MLM-Norm", "LayerNormalization", 2 * d, heads, None, "2 × d", seq, ("MLM-Dense",), s * d),
            LayerRow("Extract", "Extract", 0, heads, None, "0", (None, d), (previous,), d),
            LayerRow("MLM-Sim", "EmbeddingSimilarity", v, heads, None, "V (a bias per token; the matrix is "
                     "Embedding-Token's)", (None, s, v), ("MLM-Norm", "Embedding-Token"), s * v),
            LayerRow("Input-Masked", "InputLayer", 0, "inputs", None, "0", [(None, s)], (), s),
            LayerRow("NSP-Dense", "Dense", d * d + d, heads, None, "d·d + d", (None, d), ("Extract",), d),
            LayerRow("MLM", "Masked", 0, heads, None, "0", (None, s, v), ("MLM-Sim", "Input-Masked"), s * v),
            LayerRow("NSP", "Dense", d * NSP_CLASSES + NSP_CLASSES, heads, None, "d × 2 + 2", (None, NSP_CLASSES),
                     ("NSP-Dense",), NSP_CLASSES),
        ]
        # fmt: on
    return tuple(rows)


def total_params(config: ModelConfig) -> int:
    """``model.count_params()`` of the real model, in closed form."""
    v, p, d, f, n = config.vocab, config.pos_num, config.embed_dim, config.ff_dim, config.layers
    embeddings = v * d + SEGMENT_COUNT * d + p * d + 2 * d
    per_block = 4 * (d * d + d) + (2 * d * f + f + d) + 2 * (2 * d)
    heads = (
        0 if config.encoder_only else (d * d + d) + 2 * d + v + (d * d + d) + (NSP_CLASSES * d + NSP_CLASSES)
    )
    return embeddings + n * per_block + heads


def component_totals(config: ModelConfig) -> dict[str, int]:
    """Parameters per component, every component present (zero where it has none)."""
    totals = dict.fromkeys(COMPONENTS, 0)
    for row in layer_rows(config):
        totals[row.component] += row.params
    return totals


def block_totals(config: ModelConfig) -> list[dict]:
    """Parameters per encoder block and component, for stacked charts."""
    by_block: dict[str, dict[str, int]] = {}
    for row in layer_rows(config):
        if row.params == 0:
            continue
        label = "Embeddings" if row.block == 0 else "Heads" if row.block is None else f"Encoder-{row.block}"
        by_block.setdefault(label, {})
        by_block[label][row.component] = by_block[label].get(row.component, 0) + row.params
    return [{"block": block, **parts} for block, parts in by_block.items()]


# model.summary()'s columns, as the explorer's layer table shows them.
TABLE_COLUMNS = ("Layer (type)", "Output Shape", "Param #", "Connected to")


def summary_table(layers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``model.summary()``'s columns from layer dicts: ``LayerRow.as_dict()`` rows (the arithmetic,
    which adds the component and the formula) or a real build's layers (``size --verify --json``)."""
    table = []
    for layer in layers:
        row = {
            "Layer (type)": f"{layer['name']} ({layer['type']})",
            "Output Shape": layer["output_shape"],
            "Param #": int(layer["params"]),
            "Connected to": ", ".join(layer["connected_to"]),
        }
        row.update(
            {
                title: layer[key]
                for title, key in (("Component", "component"), ("Formula", "formula"))
                if key in layer
            }
        )
        table.append(row)
    return table


def arithmetic_table(config: ModelConfig) -> list[dict[str, Any]]:
    """The layer table of ``config`` by arithmetic."""
    return summary_table(row.as_dict() for row in layer_rows(config))
