"""What the explorer says a Google checkpoint holds and weighs, checked against a checkpoint written
with Google's variable names and read back by keras-bert's own loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertviz_core.arithmetic.bert_config import (
    ERF_GELU,
    TANH_GELU,
    bert_config_json,
    checkpoint_size_note,
    gelu_of_config,
    parse_bert_config,
)
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import ConfigError

# Google's BERT-base (uncased_L-12_H-768_A-12/bert_config.json) and BERT-Tiny (uncased_L-2_H-128_A-2).
BERT_BASE = ModelConfig()
BERT_TINY = ModelConfig(embed_dim=128, heads=2, layers=2, ff_dim=512)


@pytest.mark.parametrize(
    ("config", "figures"),
    [
        # 110,106,428 × 4 bytes: the 440 MB of BERT-base's data file; 109,482,240 is BertModel's count.
        (
            BERT_BASE,
            ["110,106,428 parameters", "440,425,712 bytes (420.0 MB)", "108,891,648", "109,482,240"],
        ),
        (BERT_TINY, ["4,433,468 parameters", "17,733,872 bytes", "4,369,408", "4,385,920"]),
    ],
    ids=["base", "tiny"],
)
def test_the_note_gives_the_checkpoints_figures(config: ModelConfig, figures: list[str]) -> None:
    note = checkpoint_size_note(config)
    for figure in figures:
        assert figure in note, figure
    assert "bert_model.ckpt.data-00000-of-00001" in note and "training=True" in note
    assert checkpoint_size_note(config.with_changes(encoder_only=True)) == note  # the switch does not matter


def _google_variables(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every variable of a released checkpoint (Google's modeling.py and run_pretraining.py names)."""
    v, p, d, f = config.vocab, config.pos_num, config.embed_dim, config.ff_dim
    shapes: dict[str, tuple[int, ...]] = {
        "bert/embeddings/word_embeddings": (v, d),
        "bert/embeddings/token_type_embeddings": (2, d),
        "bert/embeddings/position_embeddings": (p, d),
        "bert/embeddings/LayerNorm/gamma": (d,),
        "bert/embeddings/LayerNorm/beta": (d,),
        "bert/pooler/dense/kernel": (d, d),
        "bert/pooler/dense/bias": (d,),
        "cls/predictions/transform/dense/kernel": (d, d),
        "cls/predictions/transform/dense/bias": (d,),
        "cls/predictions/transform/LayerNorm/gamma": (d,),
        "cls/predictions/transform/LayerNorm/beta": (d,),
        "cls/predictions/output_bias": (v,),
        "cls/seq_relationship/output_weights": (2, d),
        "cls/seq_relationship/output_bias": (2,),
    }
    for layer in range(config.layers):
        prefix = f"bert/encoder/layer_{layer}/"
        for dense, shape in [*((f"attention/self/{part}", (d, d)) for part in ("query", "key", "value")),
                             ("attention/output/dense", (d, d)), ("intermediate/dense", (d, f)),
                             ("output/dense", (f, d))]:  # fmt: skip
            shapes[f"{prefix}{dense}/kernel"] = shape
            shapes[f"{prefix}{dense}/bias"] = shape[-1:]
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            shapes[f"{prefix}{norm}/gamma"] = shapes[f"{prefix}{norm}/beta"] = (d,)
    return shapes


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_keras_bert_fills_the_counted_parameters_from_a_checkpoint_of_4_bytes_each(tmp_path) -> None:
    from bertviz_core.model import runtime

    tf = runtime.tensorflow()
    from keras_bert import load_trained_model_from_checkpoint

    config = ModelConfig(vocab=300, seq_len=64, pos_num=64, embed_dim=32, heads=2, layers=2, ff_dim=48)
    shapes = _google_variables(config)
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(rng.normal(0, 0.02, shape).astype(np.float32), name=name)
                     for name, shape in shapes.items()]  # fmt: skip
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(variables).save(session, str(tmp_path / "bert_model.ckpt"))
    (tmp_path / "bert_config.json").write_text(json.dumps(bert_config_json(config)), encoding="utf-8")
    opened = parse_bert_config((tmp_path / "bert_config.json").read_bytes(), encoder_only=False)
    assert opened == config.with_changes(encoder_only=False)
    counted = total_params(opened)
    assert sum(int(np.prod(shape)) for shape in shapes.values()) == counted
    assert (tmp_path / "bert_model.ckpt.data-00000-of-00001").stat().st_size == 4 * counted
    checkpoint, config_file = str(tmp_path / "bert_model.ckpt"), str(tmp_path / "bert_config.json")
    try:
        # training=True sets every weight of the pretraining model (a missing name or a wrong shape
        # would raise): the checkpoint holds exactly the parameters the explorer counts.
        model = load_trained_model_from_checkpoint(config_file, checkpoint, training=True)
        assert model.count_params() == counted
        reader = tf.train.load_checkpoint(checkpoint)
        nsp_dense = model.get_layer("NSP-Dense").get_weights()[0]
        assert np.array_equal(nsp_dense, reader.get_tensor("bert/pooler/dense/kernel"))
        encoder = load_trained_model_from_checkpoint(config_file, checkpoint, training=False)
        assert encoder.count_params() == total_params(opened.with_changes(encoder_only=True))
    finally:
        tf.keras.backend.clear_session()


@pytest.mark.parametrize(("gelu", "hidden_act"), [(TANH_GELU, "gelu"), (ERF_GELU, "gelu_erf")])
def test_bert_config_names_the_gelu_its_weights_need(gelu, hidden_act):
    written = bert_config_json(BERT_TINY, gelu)
    assert written["hidden_act"] == hidden_act
    assert gelu_of_config(json.dumps(written)) == gelu
    assert parse_bert_config(written, encoder_only=False) == BERT_TINY
    # Google's own files say "gelu" (the tanh form its code computes), or nothing at all.
    assert gelu_of_config({}) == TANH_GELU


def test_another_activation_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match="'gelu_new'; keras-bert builds BERT with 'gelu'"):
        parse_bert_config({**bert_config_json(BERT_TINY), "hidden_act": "gelu_new"})
