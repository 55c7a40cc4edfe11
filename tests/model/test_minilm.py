"""sentence-transformers' all-MiniLM-L6-v2, a real pretrained BERT (22.7M parameters) trained with the
exact (erf) GELU, through keras-bert: read as a Hugging Face folder, converted to Google's layout,
loaded by keras-bert's own loader, and its encoder output on real tokens held against a NumPy BERT
computed from its safetensors (and transformers where installed), within 1e-4; then a classifier on it
saved, reloaded and exported.

Loading it costs seconds, so one module fixture converts and loads it once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertviz_core.data.tokens import encode_texts
from bertviz_core.model import activations, runtime
from bertviz_core.model.bundle import MODEL_FILE, load_bundle, save_bundle
from bertviz_core.model.checkpoint import (
    GOOGLE,
    HUGGING_FACE,
    convert_checkpoint,
    open_checkpoint,
    read_checkpoint,
)
from bertviz_core.model.classifier import ClassifierBundle, build_classifier, predict_proba
from bertviz_core.model.huggingface import ERF_GELU
from bertviz_core.settings import TrainSettings
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


def keras_bert_encoder(google_folder, seq_len=SEQ_LEN):
    """The encoder as keras-bert's own loader builds it from the Google layout, inside the scope that
    names the exact GELU (what a user outside this project writes, per ``convert``'s note)."""
    tf = runtime.tensorflow()
    with tf.keras.utils.custom_object_scope({"gelu_erf": tf.keras.activations.gelu}):
        return runtime.keras_bert().load_trained_model_from_checkpoint(
            str(google_folder / "bert_config.json"),
            str(google_folder / "bert_model.ckpt"),
            training=False,
            seq_len=seq_len,
        )


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    files = open_checkpoint(minilm_folder(), tmp_path_factory.mktemp("minilm"))
    google = read_checkpoint(convert_checkpoint(files, tmp_path_factory.mktemp("minilm-google"), GOOGLE))
    token_ids = encode_texts(files.vocabulary, TEXTS, SEQ_LEN).token_ids
    output = keras_bert_encoder(google.folder).predict([token_ids, np.zeros_like(token_ids)], verbose=0)
    from safetensors.numpy import load_file

    weights = load_file(str(files.folder / "model.safetensors"))
    return {"files": files, "google": google, "ids": token_ids, "keras_bert": output, "weights": weights}


def difference(a, b, token_ids) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - b)[token_ids != 0].max())


def test_the_google_layout_says_which_gelu_its_weights_need(minilm):
    assert minilm["files"].gelu == ERF_GELU  # config.json's "gelu" is transformers' erf one
    config = json.loads((minilm["google"].folder / "bert_config.json").read_text())
    assert config["hidden_act"] == "gelu_erf"
    assert minilm["google"].gelu == ERF_GELU and minilm["google"].config == minilm["files"].config
    # A reader that does not know the name refuses the file rather than computing the tanh GELU.
    with pytest.raises(ValueError, match="gelu_erf"):
        runtime.keras_bert().load_trained_model_from_checkpoint(
            str(minilm["google"].folder / "bert_config.json"),
            str(minilm["google"].prefix),
            training=False,
            seq_len=SEQ_LEN,
        )


def test_keras_berts_loader_computes_minilm_as_the_source_does(minilm):
    ids = minilm["ids"]
    tokens = [minilm["files"].vocabulary.tokens[i] for i in ids[1] if i]
    assert tokens[:6] == ["[CLS]", "cafe", "cr", "##eme", "at", "the"]  # lower-cased, accents stripped
    erf = encoder_output(minilm["weights"], 12, ids, gelu="erf")
    assert difference(minilm["keras_bert"], erf, ids) < TOLERANCE
    # The tanh approximation keras-bert builds for "gelu" would be measurably off: the test can tell.
    tanh = encoder_output(minilm["weights"], 12, ids, gelu="tanh")
    assert difference(minilm["keras_bert"], tanh, ids) > 10 * TOLERANCE


def _encoder_of(classifier):
    tf = runtime.tensorflow()
    return tf.keras.Model(classifier.inputs, classifier.get_layer("Pooling").input)


def test_the_training_path_starts_from_minilm_with_its_weights_and_gelu(minilm):
    files, ids = minilm["files"], minilm["ids"]
    model = build_classifier(files.model_config(SEQ_LEN), 3, checkpoint=files)
    np.testing.assert_array_equal(
        model.get_layer("Embedding-Token").get_weights()[0],
        minilm["weights"]["embeddings.word_embeddings.weight"],
    )
    kernel = model.get_layer("Encoder-6-FeedForward").get_weights()[0]
    np.testing.assert_array_equal(kernel, minilm["weights"]["encoder.layer.5.intermediate.dense.weight"].T)
    assert isinstance(model.get_layer("Encoder-6-FeedForward").activation, activations.GeluErf)
    output = _encoder_of(model).predict([ids, np.zeros_like(ids)], verbose=0)
    assert difference(output, encoder_output(minilm["weights"], 12, ids, gelu="erf"), ids) < TOLERANCE


@pytest.fixture(scope="module")
def saved_classifier(minilm, tmp_path_factory):
    files = minilm["files"]
    config = files.model_config(SEQ_LEN)
    bundle = ClassifierBundle(
        model=build_classifier(config, 3, seed=4, checkpoint=files),
        vocabulary=files.vocabulary,
        class_names=("kitchen", "travel", "science"),
        config=config,
        settings=TrainSettings().to_dict(),
        metrics={"start": {"from": "checkpoint", "name": files.name}},
    )
    return bundle, save_bundle(bundle, tmp_path_factory.mktemp("minilm-classifier"))


def test_a_saved_erf_classifier_reloads_and_predicts_identically(saved_classifier):
    bundle, folder = saved_classifier
    loaded = load_bundle(folder)
    assert isinstance(loaded.model.get_layer("Encoder-1-FeedForward").activation, activations.GeluErf)
    assert np.array_equal(predict_proba(loaded, TEXTS), predict_proba(bundle, TEXTS))


def test_the_exported_model_loads_with_keras_berts_objects_and_the_documented_extra(saved_classifier, minilm):
    bundle, folder = saved_classifier
    tf = runtime.tensorflow()
    extra = eval("{" + activations.EXTRA_CUSTOM_OBJECT + "}", {"tf": tf})  # the sentence, as a user types it
    model = tf.keras.models.load_model(
        folder / MODEL_FILE,
        custom_objects={**runtime.keras_bert().get_custom_objects(), **extra},
        compile=False,
    )
    ids = minilm["ids"]
    np.testing.assert_allclose(
        model.predict([ids, np.zeros_like(ids)], verbose=0), predict_proba(bundle, TEXTS), atol=1e-6
    )


def test_transformers_agrees_and_reads_both_conversions_back(minilm, tmp_path):
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

    source = last_layer(minilm_folder())
    assert difference(source, encoder_output(minilm["weights"], 12, ids), ids) < TOLERANCE
    assert difference(minilm["keras_bert"], source, ids) < TOLERANCE
    # Back from Google's layout, config.json says "gelu" again: transformers computes the source's output.
    back = convert_checkpoint(minilm["google"], tmp_path / "hf", HUGGING_FACE)
    assert json.loads((back / "config.json").read_text())["hidden_act"] == "gelu"
    assert difference(last_layer(back), source, ids) < TOLERANCE


def test_the_export_caption_is_for_classifiers_that_need_it():
    assert activations.needs_gelu_erf({"start": {"from": "checkpoint", "name": "m", "gelu": "erf"}})
    assert not activations.needs_gelu_erf({"start": {"from": "checkpoint", "name": "m", "gelu": "tanh"}})
    assert not activations.needs_gelu_erf({"start": {"from": "checkpoint", "name": "older run"}})
    assert not activations.needs_gelu_erf({})
    assert activations.EXTRA_CUSTOM_OBJECT in activations.EXPORT_NOTE


def test_looking_inside_an_erf_classifier_uses_its_gelu_gradient(saved_classifier):
    """Integrated gradients differentiate through GeluErf's written-out gradient: the attributions
    still add up to the probability change (the method's completeness)."""
    from bertviz_core.model.inspect import IG_TOLERANCE, explain

    bundle, folder = saved_classifier
    explanation = explain(load_bundle(folder), TEXTS[0])
    assert explanation.completeness_gap < IG_TOLERANCE
    assert explanation.tokens[0] == "[CLS]" and explanation.attention.shape[:2] == (6, 12)
