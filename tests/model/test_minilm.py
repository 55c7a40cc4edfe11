"""sentence-transformers' all-MiniLM-L6-v2, a real pretrained BERT (22.7M parameters), through
keras-bert: read as a Hugging Face folder, converted to Google's layout, loaded by keras-bert's own
loader, and its encoder output on real tokens held against a NumPy BERT computed from its safetensors.

Loading it costs seconds, so one module fixture converts and loads it once."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.data.tokens import encode_texts
from bertviz_core.model import runtime
from bertviz_core.model.checkpoint import (
    GOOGLE,
    HUGGING_FACE,
    convert_checkpoint,
    open_checkpoint,
    read_checkpoint,
)
from bertviz_core.model.classifier import build_classifier
from tests.model.huggingface_files import minilm_folder
from tests.model.reference_bert import encoder_output

pytestmark = pytest.mark.slow

TEXTS = [
    "The kettle boiled in under a minute and never leaked.",
    "Café crème at the Zürich station: naïve, but lovely!",
    "Transfer learning starts from weights someone else trained.",
]
SEQ_LEN = 24
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    files = open_checkpoint(minilm_folder(), tmp_path_factory.mktemp("minilm"))
    google = read_checkpoint(convert_checkpoint(files, tmp_path_factory.mktemp("minilm-google"), GOOGLE))
    token_ids = encode_texts(files.vocabulary, TEXTS, SEQ_LEN).token_ids
    encoder = runtime.keras_bert().load_trained_model_from_checkpoint(
        str(google.folder / "bert_config.json"), str(google.prefix), training=False, seq_len=SEQ_LEN
    )
    output = encoder.predict([token_ids, np.zeros_like(token_ids)], verbose=0)
    from safetensors.numpy import load_file

    weights = load_file(str(files.folder / "model.safetensors"))
    return {"files": files, "google": google, "ids": token_ids, "keras_bert": output, "weights": weights}


def difference(a, b, token_ids) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - b)[token_ids != 0].max())


def test_keras_bert_computes_minilm_from_the_converted_checkpoint(minilm):
    ids = minilm["ids"]
    tokens = [minilm["files"].vocabulary.tokens[i] for i in ids[1] if i]
    assert tokens[:6] == ["[CLS]", "cafe", "cr", "##eme", "at", "the"]  # lower-cased, accents stripped
    assert minilm["google"].config == minilm["files"].config
    # The weight mapping is exact: keras-bert equals the NumPy BERT with keras-bert's tanh GELU.
    tanh = encoder_output(minilm["weights"], 12, ids, gelu="tanh")
    assert difference(minilm["keras_bert"], tanh, ids) < TOLERANCE
    # MiniLM was trained with the erf GELU (its config.json's "gelu"): keras-bert's tanh form moves the
    # last layer by about 2.6e-3, a known, bounded approximation rather than a mapping error.
    erf = encoder_output(minilm["weights"], 12, ids, gelu="erf")
    assert TOLERANCE < difference(minilm["keras_bert"], erf, ids) < 1e-2


def test_the_classifier_starts_from_minilm_with_its_weights(minilm):
    files = minilm["files"]
    model = build_classifier(files.model_config(SEQ_LEN), 3, checkpoint=files)
    np.testing.assert_array_equal(
        model.get_layer("Embedding-Token").get_weights()[0],
        minilm["weights"]["embeddings.word_embeddings.weight"],
    )
    kernel = model.get_layer("Encoder-6-FeedForward").get_weights()[0]
    np.testing.assert_array_equal(kernel, minilm["weights"]["encoder.layer.5.intermediate.dense.weight"].T)


def test_transformers_agrees_with_the_oracle_and_reads_the_conversion_back(minilm, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ids = minilm["ids"]
    mask = torch.tensor((ids != 0).astype(np.int64))

    def last_layer(folder):
        model = transformers.BertModel.from_pretrained(str(folder)).eval()
        with torch.no_grad():
            return model(
                input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=mask
            ).last_hidden_state.numpy()

    # The oracle is BERT as transformers computes it (erf GELU).
    assert (
        difference(last_layer(minilm_folder()), encoder_output(minilm["weights"], 12, ids), ids) < TOLERANCE
    )
    # Back from Google's layout, config.json says "gelu_new": transformers then computes what keras-bert does.
    back = convert_checkpoint(minilm["google"], tmp_path / "hf", HUGGING_FACE)
    assert difference(last_layer(back), minilm["keras_bert"], ids) < TOLERANCE
