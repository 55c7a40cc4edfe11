"""The attention shown is the layer's own, and the attributions keep integrated gradients' promise."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import encode_texts
from bertviz_core.errors import UserError
from bertviz_core.model import runtime
from bertviz_core.model.inspect import (
    Explanation,
    _heads,
    _project,
    attention_inputs,
    attention_layers,
    attention_weights,
    explain,
)
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset


def rebuilt_output(layer, layer_input: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The test's oracle: the layer's output computed from ``weights`` (``attention_weights``), the
    proof they are its own."""
    tf = runtime.tensorflow()
    x = tf.constant(layer_input, dtype=tf.float32)
    values = _heads(tf, layer.activation(_project(x, layer.Wv, layer.bv)), layer.head_num)
    mixed = tf.matmul(tf.constant(weights, dtype=tf.float32), values)  # (batch, heads, tokens, size)
    batch, heads, tokens, size = mixed.shape
    joined = tf.reshape(tf.transpose(mixed, (0, 2, 1, 3)), (batch, tokens, heads * size))
    return layer.activation(_project(joined, layer.Wo, layer.bo)).numpy()


# Two layers and four heads, so layer order and head order both matter.
WIDER = ModelConfig(vocab=200, seq_len=16, pos_num=16, embed_dim=32, heads=4, layers=2, ff_dim=64)
TEXTS = ["good great fine", "bad awful poor terrible good", "fine"]


@pytest.fixture(scope="module")
def wider():
    return train_classifier(
        separable_dataset(), WIDER, TrainSettings(epochs=4, batch_size=8, learning_rate=0.005, seed=1)
    )


def _encoded(bundle, texts):
    ids = encode_texts(bundle.vocabulary, texts, bundle.config.seq_len).token_ids
    return ids, {"Input-Token": ids, "Input-Segment": np.zeros_like(ids)}


def test_recomputed_attention_rebuilds_each_layer_s_real_output(wider):
    ids, inputs = _encoded(wider, TEXTS)
    assert (ids == 0).any(), "the texts must leave padding, so that the mask is exercised"
    layer_inputs, layer_outputs = attention_inputs(wider.model, inputs)
    layers = attention_layers(wider.model)
    assert [layer.name for layer in layers] == [f"Encoder-{n}-MultiHeadSelfAttention" for n in (1, 2)]
    for layer, x, real in zip(layers, layer_inputs, layer_outputs, strict=True):
        weights = attention_weights(layer, x, (ids != 0).astype(np.float32))
        assert weights.shape == (len(TEXTS), 4, 16, 16)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(rebuilt_output(layer, x, weights), real, atol=1e-5)
        # Padding is never looked at.
        assert weights[0][..., ids[0] == 0].max() < 1e-6


def test_a_wrong_mask_would_be_caught(wider):
    """The equality above is not a tautology: attention without the padding mask rebuilds a different output."""
    ids, inputs = _encoded(wider, TEXTS)
    layer_inputs, layer_outputs = attention_inputs(wider.model, inputs)
    layer = attention_layers(wider.model)[0]
    unmasked = attention_weights(layer, layer_inputs[0], np.ones_like(ids, dtype=np.float32))
    assert np.abs(rebuilt_output(layer, layer_inputs[0], unmasked) - layer_outputs[0]).max() > 1e-3


def test_explanation_of_a_text(wider):
    explanation = explain(wider, "good great fine")
    n = len(explanation.tokens)
    assert explanation.tokens[0] == "[CLS]" and explanation.tokens[-1] == "[SEP]" and n == 5
    assert explanation.attention.shape == (2, 4, n, n)
    np.testing.assert_allclose(explanation.attention.sum(axis=-1), 1.0, atol=1e-5)
    assert explanation.attributions.shape == (len(wider.class_names), n)
    # The probabilities are the model's own.
    _, inputs = _encoded(wider, ["good great fine"])
    real = np.asarray(wider.model(inputs, training=False))[0]
    np.testing.assert_allclose(explanation.probabilities, real, atol=1e-5)


@pytest.mark.parametrize("text", ["good great fine", "bad awful poor terrible good", "fine bad"])
def test_attributions_add_up_to_the_change_in_probability(wider, text):
    """Completeness: per class, the attributions sum to p(text) - p(baseline), within 1 % of the change."""
    explanation = explain(wider, text)
    change = explanation.probabilities - explanation.baseline_probabilities
    sums = explanation.attributions.sum(axis=1)
    assert np.abs(change).max() > 0.01, "the text must move the model for the check to mean something"
    np.testing.assert_allclose(sums, change, atol=0.01 * np.abs(change).max() + 1e-4)


def test_explanation_round_trips_through_json(wider):
    explanation = explain(wider, "bad awful")
    data = explanation.to_dict()
    assert set(data) >= {"tokens", "attention", "attributions", "label", "probabilities"}
    assert data["label"] == wider.class_names[explanation.predicted]
    assert len(data["attributions"]) == len(data["tokens"])
    again = Explanation.from_dict(data)
    np.testing.assert_allclose(again.attention, explanation.attention, atol=1e-6)
    np.testing.assert_allclose(again.attributions, explanation.attributions, atol=1e-6)
    assert again.class_names == explanation.class_names


def test_an_empty_text_is_refused_in_a_sentence(trained):
    with pytest.raises(UserError, match="empty"):
        explain(trained, "   ")


def test_a_text_longer_than_the_model_is_cut_to_its_length(trained):
    explanation = explain(trained, " ".join(["good"] * 100))
    assert len(explanation.tokens) == trained.config.seq_len
    assert explanation.attention.shape[-1] == trained.config.seq_len
