"""Numbers and sentences the explorer shows: formatting, the notebook's surprises, shared links.

Every figure in a sentence here is computed from the configuration it describes, so the text
stays true whatever the user picks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from bertviz_core.config import QUERY_KEYS, ConfigError, ModelConfig, valid_head_counts
from bertviz_core.params import layer_rows, total_params

# --- formatting --------------------------------------------------------------------------------


def format_count(count: int) -> str:
    """A count written out in full: 87404010 -> '87,404,010'."""
    return f"{count:,}"


def format_short_count(count: int) -> str:
    """A count rounded for a caption: 87404010 -> '87.4 M'."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def format_bytes(count: int) -> str:
    """Binary units, as memory is sold and reported: 440425712 -> '420.0 MiB'."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_flops(count: int, short: bool = False) -> str:
    """Decimal units, as FLOP rates are quoted: 121245440000 -> '121.2 GFLOP' ('121.2 G' if short)."""
    for size, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f} {prefix}" + ("" if short else "FLOP")
    return f"{count}" + ("" if short else " FLOP")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=])")


def escape_markdown(text: str) -> str:
    """Text that Streamlit's Markdown shows literally (no links, colours, icons or LaTeX)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _lower_first(sentence: str) -> str:
    if len(sentence) > 1 and sentence[0].isupper() and not sentence[1].isupper():
        return sentence[0].lower() + sentence[1:]
    return sentence


# --- the notebook's surprises ------------------------------------------------------------------

UNTRAINED_MODEL = (
    "No. `keras_bert.get_model(...)` builds the architecture with random weights: nothing in it has "
    "been trained, so all the parameters counted here would still have to be learned. Pre-trained "
    "weights come only from a checkpoint that someone trained, loaded with "
    "`keras_bert.load_trained_model_from_checkpoint(config_path, checkpoint_path)` (for example "
    "Google's BERT releases). This app never downloads one: it counts, and it trains small models "
    "from scratch on the training page."
)


def fourth_root(vocab: int) -> float:
    """The rule-of-thumb embedding size for a vocabulary: vocab ** 0.25."""
    return vocab**0.25


def fourth_root_note(config: ModelConfig) -> str:
    """What the fourth-root rule suggests for this vocabulary, next to what the model uses."""
    root = fourth_root(config.vocab)
    suggested = math.ceil(root)
    bert_root = fourth_root(30522)
    ratio = config.embed_dim / root
    comparison = (
        f"your embedding of {config.embed_dim:,} is {ratio:,.0f} times that"
        if ratio >= 1.5
        else f"your embedding of {config.embed_dim:,} is close to it"
        if ratio >= 0.67
        else f"your embedding of {config.embed_dim:,} is smaller still"
    )
    return (
        f"A rule of thumb from Google's guidance on embedding feature columns says an embedding needs "
        f"about vocabulary^0.25 dimensions: for {config.vocab:,} tokens that is {root:.2f}, so about "
        f"{suggested}, and {comparison}. BERT uses 768 for 30,522 tokens ({768 / bert_root:.0f} times the "
        f"rule's {bert_root:.1f}): the rule was made for sparse categories fed to a small model, while "
        "a transformer's embedding is also its working width, carrying each token's meaning in context "
        "through every layer; it is a starting point for plain embeddings, not a sizing law for BERT."
    )


def feed_forward_params(config: ModelConfig) -> int:
    """Weights in all feed-forward blocks: L × (d·F + F + F·d + d)."""
    d, f = config.embed_dim, config.ff_dim
    return config.layers * (2 * d * f + f + d)


def feed_forward_note(config: ModelConfig) -> str:
    """How much of the model sits in the feed-forward blocks, computed for this configuration."""
    d, f, layers = config.embed_dim, config.ff_dim, config.layers
    in_feed_forward = feed_forward_params(config)
    total = total_params(config)
    sentence = (
        f"{layers} × (2·{d}·{f:,} + {f:,} + {d}) = {in_feed_forward:,} of the {total:,} parameters "
        f"({in_feed_forward / total:.1%}) sit in the feed-forward blocks: each block has two d × F "
        f"matrices (d = {d:,} is the embedding, F = {f:,} the feed-forward width)."
    )
    if f > 8 * d:
        smaller = config.with_changes(ff_dim=4 * d)
        sentence += (
            f" keras-bert's feed_forward_dim does not follow embed_dim: it stayed {f:,}, "
            f"{f / d:,.0f} times the embedding, where BERT uses 4 times. With F = 4·d = {4 * d:,} "
            f"this model would have {total_params(smaller):,} parameters."
        )
    return sentence


def sequence_length_note(config: ModelConfig) -> str:
    """Why the sequence length leaves the count unchanged, with this configuration's numbers."""
    s, p, d = config.seq_len, config.pos_num, config.embed_dim
    return (
        f"No weight has the sequence length S in its shape. The position table has one row per "
        f"position, P × d = {p:,} × {d:,} = {p * d:,} weights, and P is pos_num ({p:,}; keras-bert's "
        f"default stays 512 when you only set seq_len). S = {s:,} sets the input shape, so it changes "
        "the activations (memory grows with S, and with S² in the attention scores) and the compute "
        "per sequence, which is where a shorter sequence saves; to save weights, lower the position count."
    )


# --- head count ---------------------------------------------------------------------------------


def nearest_head_count(embed_dim: int, wanted: int) -> int:
    """The valid head count closest to ``wanted`` (the smaller one on a tie)."""
    choices = valid_head_counts(embed_dim)
    return min(choices, key=lambda count: (abs(count - wanted), count))


def head_count_note(embed_dim: int, wanted: int, chosen: int) -> str:
    """One sentence for a head count that does not divide the embedding dimension."""
    valid = valid_head_counts(embed_dim)
    shown = ", ".join(str(count) for count in valid[:12]) + (", ..." if len(valid) > 12 else "")
    return (
        f"{wanted} heads cannot split an embedding dimension of {embed_dim:,} (keras-bert would say "
        f"'Invalid head number {wanted} with the given input dim {embed_dim}'), so the head count is "
        f"now {chosen}: the count must divide {embed_dim:,} ({shown})."
    )


# --- shared links -------------------------------------------------------------------------------


def _single(raw: Any) -> str:
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else ""
    return str(raw)


def _shown(key: str, raw: Any) -> str:
    value = _single(raw)
    return f"{key}={value[:40]}" + ("..." if len(value) > 40 else "")


def config_from_link(params: Mapping[str, Any]) -> tuple[ModelConfig, list[str]]:
    """The configuration a shared link asks for, and one sentence per setting that was ignored.

    Unknown keys and bad values are dropped one at a time, so the rest of the link still applies;
    the result is always a valid configuration.
    """
    notes: list[str] = []
    remaining: dict[str, Any] = {}
    for key, raw in params.items():
        if key in QUERY_KEYS:
            remaining[key] = raw
        else:
            notes.append(
                f"The link's setting '{str(key)[:40]}' is not one the explorer knows, so it was ignored "
                f"(the settings are {', '.join(QUERY_KEYS)})."
            )
    while remaining:
        try:
            return ModelConfig.from_mapping(remaining), notes
        except ConfigError as error:
            culprit, reason = _culprit(remaining, error)
            notes.append(
                f"The link's {_shown(culprit, remaining[culprit])} was ignored because {_lower_first(reason)}"
            )
            del remaining[culprit]
    return ModelConfig(), notes


# When two settings clash, the one that depends on the other gives way.
_GIVES_WAY_FIRST = ("heads", "seq_len", "pos_num", "embed_dim", "encoder_only", "ff_dim", "layers", "vocab")


def _culprit(values: dict[str, Any], error: ConfigError) -> tuple[str, str]:
    """The setting to drop: one that is bad on its own, else the one whose removal fixes the rest."""
    for key in values:
        try:
            ModelConfig.from_mapping({key: values[key]}, base=_base_that_accepts(key, values[key]))
        except ConfigError as own_error:
            return key, str(own_error)
    for key in _GIVES_WAY_FIRST:
        if key in values:
            rest = {other: raw for other, raw in values.items() if other != key}
            try:
                ModelConfig.from_mapping(rest)
            except ConfigError:
                continue
            return key, str(error)
    order = [key for key in _GIVES_WAY_FIRST if key in values]
    return order[0], str(error)


def _base_that_accepts(key: str, raw: Any) -> ModelConfig:
    """A base configuration in which ``key`` can only fail on its own value (type or range)."""
    if key == "heads":
        # A base whose embedding is the head count itself: any count in range divides it.
        text = _single(raw).strip()
        if text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= 128:
            return ModelConfig(embed_dim=int(text), heads=int(text))
        return ModelConfig()
    if key == "embed_dim":
        return ModelConfig(heads=1)
    if key == "seq_len":
        return ModelConfig(pos_num=8192)
    if key == "pos_num":
        return ModelConfig(seq_len=1)
    return ModelConfig()


# --- the layer table ----------------------------------------------------------------------------

TABLE_COLUMNS = ("Layer (type)", "Output Shape", "Param #", "Connected to")


def arithmetic_table(config: ModelConfig) -> list[dict[str, Any]]:
    """``model.summary()``'s columns by arithmetic, plus the component and the formula."""
    table = []
    for row in layer_rows(config):
        data = row.as_dict()
        table.append(
            {
                "Layer (type)": f"{row.name} ({row.type})",
                "Output Shape": data["output_shape"],
                "Param #": row.params,
                "Connected to": ", ".join(row.inbound),
                "Component": row.component,
                "Formula": row.formula,
            }
        )
    return table


def real_table(real_layers: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The same columns read from the real model (the ``size --verify --json`` report)."""
    return [
        {
            "Layer (type)": f"{layer['name']} ({layer['type']})",
            "Output Shape": layer["output_shape"],
            "Param #": int(layer["params"]),
            "Connected to": ", ".join(layer["connected_to"]),
        }
        for layer in real_layers
    ]


def notation(config: ModelConfig, batch_size: int | None = None) -> str:
    """The letters the formulas use, with this configuration's values."""
    parts = [
        f"V = {config.vocab:,} (vocabulary)",
        f"S = {config.seq_len:,} (sequence length)",
        f"P = {config.pos_num:,} (positions)",
        f"d = {config.embed_dim:,} (embedding)",
        f"A = {config.heads} (heads)",
        f"L = {config.layers} (layers)",
        f"F = {config.ff_dim:,} (feed-forward)",
    ]
    if batch_size is not None:
        parts.append(f"batch = {batch_size:,}")
    return " · ".join(parts)
