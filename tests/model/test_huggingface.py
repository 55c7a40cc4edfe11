"""Hugging Face starts through keras-bert's own loader, and conversions both ways, held against a
NumPy BERT computed from the safetensors (and transformers where it is installed).

keras-bert's "gelu" is the tanh approximation (keras-transformer's ``gelu``, as Google's BERT code),
which Hugging Face calls "gelu_new"; Hugging Face's "gelu" is the erf one, which a start keeps through
Google's layout as "gelu_erf" (``model.activations``). Each start is checked against the oracle with
its own GELU, where the two must agree to float32 rounding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.model import runtime
from bertviz_core.model.activations import erf_gelu_scope
from bertviz_core.model.checkpoint import (
    GOOGLE,
    HUGGING_FACE,
    convert_checkpoint,
    load_encoder,
    open_checkpoint,
    read_checkpoint,
)
from bertviz_core.model.huggingface import ERF_GELU
from bertviz_core.model.variables import HEADS
from tests.model.checkpoints import write_google_checkpoint
from tests.model.huggingface_files import write_huggingface_folder
from tests.model.reference_bert import encoder_output

pytestmark = pytest.mark.slow

SMALL = ModelConfig(
    vocab=64, seq_len=32, pos_num=32, embed_dim=16, heads=2, layers=2, ff_dim=32, encoder_only=True
)
# Words of tests.model.checkpoints' vocabulary, a piece, and padding at the end.
TOKEN_IDS = np.array([[4, 7, 11, 12, 33, 9, 5, 0, 0, 0, 0, 0], [4, 30, 8, 19, 5, 0, 0, 0, 0, 0, 0, 0]])
TOLERANCE = 1e-4


def keras_bert_output(folder, token_ids=TOKEN_IDS):
    """The encoder's last layer for ``token_ids``, loaded by keras-bert's loader from a Google layout folder
    (inside the scope that names the exact GELU, for the folders whose bert_config.json asks for it)."""
    with erf_gelu_scope():
        model = runtime.keras_bert().load_trained_model_from_checkpoint(
            str(folder / "bert_config.json"),
            str(folder / "bert_model.ckpt"),
            training=False,
            seq_len=token_ids.shape[1],
        )
    return model.predict([token_ids, np.zeros_like(token_ids)], verbose=0)


def safetensors_weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def max_difference(a, b, token_ids=TOKEN_IDS) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b))[token_ids != 0].max())  # padding aside


@pytest.fixture(scope="module")
def hf_start(tmp_path_factory):
    """BertForSequenceClassification's naming ("bert." prefix), no pooler, tokenizer.json only."""
    folder = tmp_path_factory.mktemp("hf") / "tiny-classifier"
    write_huggingface_folder(
        folder, SMALL, seed=3, prefix="bert.", pooler=False, vocab_txt=False, tokenizer_json=True
    )
    return open_checkpoint(folder, tmp_path_factory.mktemp("stored"))


def test_a_hugging_face_start_loads_through_keras_berts_loader_with_its_weights(hf_start):
    encoder = load_encoder(hf_start, 12)
    output = encoder.predict([TOKEN_IDS, np.zeros_like(TOKEN_IDS)], verbose=0)
    oracle = encoder_output(safetensors_weights(hf_start.folder), SMALL.heads, TOKEN_IDS, gelu="erf")
    assert max_difference(output, oracle) < TOLERANCE
    # The position table is cut to the sequence, as keras-bert does for any checkpoint.
    assert encoder.get_layer("Embedding-Position").get_weights()[0].shape == (12, 16)


def test_conversions_both_ways_keep_every_weight_and_the_encoder_output(hf_start, tmp_path):
    google = convert_checkpoint(hf_start, tmp_path / "google", GOOGLE)
    assert json.loads((google / "bert_config.json").read_text())["hidden_act"] == "gelu_erf"
    oracle = encoder_output(safetensors_weights(hf_start.folder), SMALL.heads, TOKEN_IDS, gelu="erf")
    assert max_difference(keras_bert_output(google), oracle) < TOLERANCE
    assert json.loads((google / "tokenizer_config.json").read_text()) == {"do_lower_case": True}
    # Back to Hugging Face's layout, through the Google checkpoint: the same tensors, BertModel's names.
    back = convert_checkpoint(read_checkpoint(google), tmp_path / "back", HUGGING_FACE)
    original, again = safetensors_weights(hf_start.folder), safetensors_weights(back)
    assert set(again) == {name.removeprefix("bert.") for name in original if "position_ids" not in name}
    for name, value in again.items():
        np.testing.assert_array_equal(value, original["bert." + name])
    config = json.loads((back / "config.json").read_text())
    assert (config["architectures"], config["model_type"], config["hidden_act"]) == (
        ["BertModel"],
        "bert",
        "gelu",
    )
    assert json.loads((back / "tokenizer_config.json").read_text())["do_lower_case"] is True
    reread = read_checkpoint(back)
    assert (reread.config, reread.vocabulary.tokens, reread.gelu) == (
        hf_start.config,
        hf_start.vocabulary.tokens,
        ERF_GELU,
    )
    # Straight from Hugging Face to Hugging Face, the start's own erf GELU is kept.
    assert (
        json.loads(
            (convert_checkpoint(hf_start, tmp_path / "same", HUGGING_FACE) / "config.json").read_text()
        )["hidden_act"]
        == "gelu"
    )


@pytest.fixture(scope="module")
def google_start(tmp_path_factory):
    """A Google release with its pooler and pretraining heads."""
    folder = write_google_checkpoint(
        tmp_path_factory.mktemp("google") / "uncased_L-2_H-16_A-2", SMALL, seed=5
    )
    return read_checkpoint(folder)


def test_a_google_checkpoint_converts_to_hugging_face_with_its_pooler(google_start, tmp_path):
    out = convert_checkpoint(google_start, tmp_path / "hf", HUGGING_FACE)
    weights = safetensors_weights(out)
    assert (
        max_difference(
            encoder_output(weights, SMALL.heads, TOKEN_IDS, gelu="tanh"),
            keras_bert_output(google_start.folder),
        )
        < TOLERANCE
    )
    pooler = runtime.tensorflow().train.load_variable(str(google_start.prefix), "bert/pooler/dense/kernel")
    np.testing.assert_array_equal(weights["pooler.dense.weight"], pooler.T)  # PyTorch's (out, in)
    assert not any(name.startswith("cls.") for name in weights)  # BertModel has no pretraining heads
    # Google to Google keeps the heads too, so keras-bert's pretraining model can load from the copy.
    copy = convert_checkpoint(google_start, tmp_path / "google", GOOGLE)
    load = runtime.tensorflow().train.load_variable
    for name in HEADS:
        np.testing.assert_array_equal(
            load(str(copy / "bert_model.ckpt"), name), load(str(google_start.prefix), name)
        )


def test_transformers_reads_what_the_conversion_writes(google_start, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    out = convert_checkpoint(google_start, tmp_path / "hf", HUGGING_FACE)
    model = transformers.BertModel.from_pretrained(str(out)).eval()
    with torch.no_grad():
        theirs = model(
            input_ids=torch.tensor(TOKEN_IDS), attention_mask=torch.tensor((TOKEN_IDS != 0).astype(np.int64))
        ).last_hidden_state.numpy()
    assert max_difference(theirs, keras_bert_output(google_start.folder)) < TOLERANCE
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.do_lower_case and tokenizer.convert_ids_to_tokens([4, 7]) == ["[CLS]", "the"]
