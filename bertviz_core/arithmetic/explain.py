"""Sentences the app shows about a configuration: the notebook's surprises, explained.

Every figure in a sentence here is computed from the configuration it describes, so the text
stays true whatever the user picks. Also the longer fixed explanations both pages show.
"""

from __future__ import annotations

import math

from bertviz_core.arithmetic.config import ModelConfig, valid_head_counts
from bertviz_core.arithmetic.params import total_params
from bertviz_core.fields import MODEL_FIELDS
from bertviz_core.text import plural

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


def describe_model(config: ModelConfig) -> str:
    """A configuration in a phrase: '2 layers, 128 wide, 2 heads, feed-forward 512, ...'."""
    return (
        f"{plural(config.layers, 'layer')}, {config.embed_dim:,} wide, {plural(config.heads, 'head')}, "
        f"feed-forward {config.ff_dim:,}, vocabulary {config.vocab:,}, {plural(config.seq_len, 'token')}"
    )


def notation(config: ModelConfig, batch_size: int | None = None) -> str:
    """The letters the formulas use, with this configuration's values."""
    parts = [f"{field.symbol} = {getattr(config, field.name):,} ({field.label})" for field in MODEL_FIELDS]
    if batch_size is not None:
        parts.append(f"batch = {batch_size:,}")
    return " · ".join(parts)


# --- the classifier's head (the training page) --------------------------------------------------

CLASSIFIER_HEAD = """
The notebook called `get_model(...)` with its default `training=True`. That builds BERT's
*pretraining* network, which ends in two heads: masked-word prediction (MLM) and next-sentence
prediction (NSP). Its `model.output` is therefore a list of two tensors. A Keras `Dense` layer wants
one tensor; given the list, Keras looks for the layer history of a single tensor, finds a tuple and
stops with `'tuple' object has no attribute 'layer'`.

Here the encoder is built with `training=False, trainable=True`. keras-bert then returns no model at
all but the pair `(inputs, output)`: the inputs and the last encoder block's output, one vector per
token. Keras' `GlobalAveragePooling1D` averages the vectors of the text's tokens (keras-bert's
mask leaves the padding out), and one `Dense(classes, activation="softmax")` layer turns the
average into class probabilities.

Why not the vector of the `[CLS]` token, which a pretrained BERT learns to summarise the text
with (keras-bert's `Extract(index=0)` takes it)? A model trained from scratch on a few thousand
texts has not learnt that yet. On 3,726 fortunes of five topics, with this page's defaults, the
average reached a higher validation accuracy than `[CLS]` (0.627 against 0.600).

There is no `Lambda` layer: a Lambda would store Python code inside `model.h5`, code that runs when
the file is loaded. With keras-bert's layers only, the saved file holds configuration and weights,
and it loads with `keras_bert.get_custom_objects()`.
"""

CLASSIFIER_HEAD_CODE = """inputs, encoded = get_model(token_num=5000, seq_len=64, pos_num=64, embed_dim=128,
                             head_num=2, transformer_num=2, feed_forward_dim=512,
                             training=False, trainable=True)
text_vector = tf.keras.layers.GlobalAveragePooling1D()(encoded)
probabilities = tf.keras.layers.Dense(num_classes, activation="softmax")(text_vector)
model = tf.keras.Model(inputs=inputs, outputs=probabilities)"""
