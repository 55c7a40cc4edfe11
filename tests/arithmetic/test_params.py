"""The arithmetic against the real keras-bert model: names, order, types, shapes, counts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import COMPONENTS, component_totals, layer_rows, total_params
from bertviz_core.model import real_model


@st.composite
def small_configs(draw) -> ModelConfig:
    """Valid configurations small enough to build in a fraction of a second each."""
    heads = draw(st.integers(1, 8))
    embed_dim = heads * draw(st.integers(1, 12))
    pos_num = draw(st.integers(1, 96))
    return ModelConfig(
        vocab=draw(st.integers(2, 3000)),
        seq_len=draw(st.integers(1, pos_num)),
        pos_num=pos_num,
        embed_dim=embed_dim,
        heads=heads,
        layers=draw(st.integers(1, 4)),
        ff_dim=draw(st.integers(1, 160)),
        encoder_only=draw(st.booleans()),
    )


@pytest.fixture(scope="module")
def tf():
    from bertviz_core.model import runtime as tf_runtime

    return tf_runtime.tensorflow()


def assert_matches_real_build(config: ModelConfig, tf) -> None:
    model = real_model.build(config)
    try:
        assert real_model.differences(config, real_model.describe(model)) == []
        assert model.count_params() == total_params(config)
        assert sum(row.params for row in layer_rows(config)) == model.count_params()
    finally:
        del model
        tf.keras.backend.clear_session()  # tests only: the app never clears the shared session


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=small_configs())
def test_every_layer_matches_real_keras_bert(config: ModelConfig, tf) -> None:
    assert_matches_real_build(config, tf)


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(vocab=1000),  # the notebook's first model
        ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1),  # the notebook's last model
        ModelConfig(vocab=30522, layers=2, embed_dim=128, heads=2, ff_dim=512, encoder_only=True),
    ],
    ids=["notebook-first", "notebook-last", "tiny-encoder"],
)
def test_named_configurations_match_real_keras_bert(config: ModelConfig, tf) -> None:
    assert_matches_real_build(config, tf)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (ModelConfig(vocab=1000), 87_404_010),
        (ModelConfig(vocab=20000), 102_015_010),
        (ModelConfig(vocab=1000, seq_len=36), 87_404_010),
        (ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1), 491_814),
        # Google's smaller BERTs and BERT-base: keras-bert's full pretraining model, vocab 30522.
        (ModelConfig(layers=2, embed_dim=128, heads=2, ff_dim=512), 4_433_468),
        (ModelConfig(layers=4, embed_dim=256, heads=4, ff_dim=1024), 11_267_900),
        (ModelConfig(layers=4, embed_dim=512, heads=8, ff_dim=2048), 29_058_876),
        (ModelConfig(layers=8, embed_dim=512, heads=8, ff_dim=2048), 41_668_412),
        (ModelConfig(), 110_106_428),
    ],
)
def test_totals_match_measured_figures(config: ModelConfig, expected: int) -> None:
    assert total_params(config) == expected
    assert sum(row.params for row in layer_rows(config)) == expected


def test_keras_hub_encoder_plus_pooler_matches_published_presets() -> None:
    # keras-hub's BertBackbone is keras-bert's encoder plus a d×d + d pooler.
    tiny = ModelConfig(layers=2, embed_dim=128, heads=2, ff_dim=512, encoder_only=True)
    base = ModelConfig(encoder_only=True)
    assert total_params(tiny) + 128 * 128 + 128 == 4_385_920
    assert total_params(base) + 768 * 768 + 768 == 109_482_240


def test_head_count_never_changes_the_count() -> None:
    counts = {total_params(ModelConfig(vocab=1000, embed_dim=12, heads=h)) for h in (1, 2, 3, 4, 6, 12)}
    assert len(counts) == 1


def test_sequence_length_never_changes_the_count() -> None:
    counts = {total_params(ModelConfig(seq_len=s)) for s in (1, 36, 128, 512)}
    assert len(counts) == 1


def test_components_cover_everything_and_feed_forward_dominates_the_notebook_model() -> None:
    config = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
    totals = component_totals(config)
    assert list(totals) == list(COMPONENTS)
    assert sum(totals.values()) == 491_814
    assert totals["feed-forward"] == 12 * (2 * 6 * 3072 + 3072 + 6) == 479_304
    assert totals["inputs"] == 0


def test_layer_names_follow_keras_bert() -> None:
    names = [row.name for row in layer_rows(ModelConfig(layers=2))]
    assert names[:8] == [
        "Input-Token", "Input-Segment", "Embedding-Token", "Embedding-Segment",
        "Embedding-Token-Segment", "Embedding-Position", "Embedding-Dropout", "Embedding-Norm",
    ]  # fmt: skip
    assert "Encoder-2-FeedForward-Norm" in names
    assert names[-8:] == [
        "MLM-Dense",
        "MLM-Norm",
        "Extract",
        "MLM-Sim",
        "Input-Masked",
        "NSP-Dense",
        "MLM",
        "NSP",
    ]
    encoder_names = [row.name for row in layer_rows(ModelConfig(layers=2, encoder_only=True))]
    assert encoder_names[-1] == "Encoder-2-FeedForward-Norm"
    assert "Input-Masked" not in encoder_names
