"""The classifier we train fast is still keras-bert's: same layers, weights, count and outputs.

The reference is an unmodified ``keras_bert.get_model`` (its own GELU, its own defaults) with the
same average-pooling + Dense head, given our model's weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.model import runtime
from bertviz_core.model.classifier import build_classifier

pytestmark = pytest.mark.timeout(120)

CONFIG = ModelConfig(
    vocab=300, seq_len=24, pos_num=24, embed_dim=32, heads=2, layers=2, ff_dim=64, encoder_only=True
)


def unmodified_keras_bert_classifier(config: ModelConfig, classes: int):
    tf = runtime.tensorflow()
    keras_bert = runtime.keras_bert()
    inputs, encoded = keras_bert.get_model(
        token_num=config.vocab, pos_num=config.pos_num, seq_len=config.seq_len, embed_dim=config.embed_dim,
        transformer_num=config.layers, head_num=config.heads, feed_forward_dim=config.ff_dim,
        training=False, trainable=True,
    )  # fmt: skip
    text_vector = tf.keras.layers.GlobalAveragePooling1D(name="Pooling")(encoded)
    probabilities = tf.keras.layers.Dense(classes, activation="softmax", name="Classifier")(text_vector)
    return tf.keras.Model(inputs=inputs, outputs=probabilities)


@pytest.fixture(scope="module")
def models():
    ours = build_classifier(CONFIG, 3, seed=4)
    # Weights far from the initial ones, so that every GELU input range is exercised.
    rng = np.random.default_rng(0)
    ours.set_weights(
        [weight + rng.normal(0, 0.5, weight.shape).astype(weight.dtype) for weight in ours.get_weights()]
    )
    reference = unmodified_keras_bert_classifier(CONFIG, 3)
    reference.set_weights(ours.get_weights())
    return ours, reference


def token_batch(rows: int = 16) -> dict:
    rng = np.random.default_rng(1)
    ids = rng.integers(1, CONFIG.vocab, size=(rows, CONFIG.seq_len))
    ids[::3, CONFIG.seq_len // 2 :] = 0  # padding, which keras-bert masks
    return {"Input-Token": ids, "Input-Segment": np.zeros_like(ids)}


def test_same_layers_and_parameter_count(models):
    ours, reference = models
    assert [layer.name for layer in ours.layers] == [layer.name for layer in reference.layers]
    assert [type(layer).__name__ for layer in ours.layers] == [
        type(layer).__name__ for layer in reference.layers
    ]
    assert ours.count_params() == reference.count_params()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in reference.get_weights()]


def test_outputs_equal_unmodified_keras_bert(models):
    ours, reference = models
    tf = runtime.tensorflow()
    batch = token_batch()
    expected = reference(batch, training=False).numpy()
    assert np.abs(ours(batch, training=False).numpy() - expected).max() <= 1e-5
    # And through the encoder alone, where the probabilities' softmax cannot hide a difference.
    encoder_output = "Encoder-2-FeedForward-Norm"
    ours_encoder = tf.keras.Model(ours.inputs, ours.get_layer(encoder_output).output)
    reference_encoder = tf.keras.Model(reference.inputs, reference.get_layer(encoder_output).output)
    difference = np.abs(
        ours_encoder(batch, training=False).numpy() - reference_encoder(batch, training=False).numpy()
    )
    assert difference.max() <= 1e-5
    # The feed-forward layers' own outputs are where the GELU acts: equal there too.
    ours_ff = tf.keras.Model(ours.inputs, ours.get_layer("Encoder-1-FeedForward").output)
    reference_ff = tf.keras.Model(reference.inputs, reference.get_layer("Encoder-1-FeedForward").output)
    assert (
        np.abs(ours_ff(batch, training=False).numpy() - reference_ff(batch, training=False).numpy()).max()
        <= 1e-5
    )


def test_saved_model_loads_with_keras_bert_custom_objects(models, tmp_path):
    ours, reference = models
    tf = runtime.tensorflow()
    keras_bert = runtime.keras_bert()
    path = tmp_path / "model.h5"
    ours.save(path, include_optimizer=False, save_format="h5")
    loaded = tf.keras.models.load_model(path, custom_objects=keras_bert.get_custom_objects(), compile=False)
    assert loaded.count_params() == reference.count_params()
    batch = token_batch()
    assert (
        np.abs(loaded(batch, training=False).numpy() - reference(batch, training=False).numpy()).max() <= 1e-5
    )
