"""Released BERT checkpoints: unpacked safely, loaded exactly as keras-bert loads them, fine-tuned,
and written back in the same layout."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import encode_texts
from bertviz_core.errors import BundleError, TrainingError
from bertviz_core.model import runtime
from bertviz_core.model.bundle import load_bundle, save_bundle
from bertviz_core.model.checkpoint import (
    open_checkpoint,
    read_checkpoint,
    save_checkpoint,
    unpack_checkpoint,
    zip_checkpoint,
)
from bertviz_core.model.classifier import build_classifier, predict_proba
from bertviz_core.model.training import train_classifier
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset
from tests.model.checkpoints import write_google_checkpoint, zipped

# One layer of width 16, like Google's smallest BERT shrunk once more; 64 positions.
SMALL = ModelConfig(vocab=64, seq_len=64, pos_num=64, embed_dim=16, heads=2, layers=2, ff_dim=32)


@pytest.fixture(scope="module")
def google_folder(tmp_path_factory):
    return write_google_checkpoint(tmp_path_factory.mktemp("google") / "uncased_L-2_H-16_A-2", SMALL)


def _keras_bert_encoder(folder, seq_len, training=False):
    keras_bert = runtime.keras_bert()
    return keras_bert.load_trained_model_from_checkpoint(
        str(folder / "bert_config.json"),
        str(folder / "bert_model.ckpt"),
        training=training,
        trainable=True,
        seq_len=seq_len,
    )


def test_a_released_zip_unpacks_to_the_four_files_and_reads_its_configuration(google_folder, tmp_path):
    name = unpack_checkpoint(zipped(google_folder), tmp_path / "unpacked")
    folder = tmp_path / "unpacked"
    assert name == "uncased_L-1_H-16_A-2"  # the folder inside the zip
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["bert_config.json", "vocab.txt", "bert_model.ckpt.index", "bert_model.ckpt.data-00000-of-00001"]
    )  # the .meta graph and the 'checkpoint' pointer are left behind
    files = read_checkpoint(folder, name)
    assert files.config == SMALL.with_changes(encoder_only=True)
    assert files.vocabulary.word_pieces and not files.vocabulary.cased
    assert files.model_config(32).seq_len == files.model_config(32).pos_num == 32
    # A folder (the command line's case), also with the files one folder down.
    again = open_checkpoint(google_folder.parent, tmp_path / "from-folder")
    assert again.config == files.config and again.name == "uncased_L-2_H-16_A-2"


def test_the_classifier_starts_from_exactly_keras_berts_loading(google_folder, tmp_path):
    files = open_checkpoint(google_folder, tmp_path / "c")
    config = files.model_config(24)
    classifier = build_classifier(config, 3, seed=0, checkpoint=files)
    reference = _keras_bert_encoder(google_folder, 24)
    for layer in reference.layers:
        for ours, theirs in zip(
            classifier.get_layer(layer.name).get_weights(), layer.get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    assert classifier.count_params() == reference.count_params() + 16 * 3 + 3  # plus the softmax head


def test_fine_tuning_from_a_checkpoint_uses_its_vocabulary_and_saves_a_bundle_that_predicts(
    google_folder, tmp_path
):
    files = open_checkpoint(google_folder, tmp_path / "c")
    bundle = train_classifier(
        separable_dataset(), SMALL.with_changes(seq_len=16, pos_num=16), TrainSettings(epochs=2, batch_size=16, seed=0),
        checkpoint=files,
    )  # fmt: skip
    assert bundle.vocabulary == files.vocabulary
    assert bundle.config == files.model_config(16)
    assert bundle.metrics["start"] == {"from": "checkpoint", "name": files.name, "gelu": "tanh"}
    # WordPiece: "films" is the piece pair film + ##s, not an unknown word.
    encoded = encode_texts(bundle.vocabulary, ["The films"], 16)
    tokens = [bundle.vocabulary.tokens[i] for i in encoded.token_ids[0] if i]
    assert tokens == ["[CLS]", "the", "film", "##s", "[SEP]"] and encoded.unknown_tokens == 0
    loaded = load_bundle(save_bundle(bundle, tmp_path / "bundle"))
    texts = ["a good film", "awful soup"]
    np.testing.assert_allclose(predict_proba(loaded, texts), predict_proba(bundle, texts), atol=1e-6)


def test_a_sequence_longer_than_the_checkpoints_positions_is_refused(google_folder, tmp_path):
    files = open_checkpoint(google_folder, tmp_path / "c")
    with pytest.raises(TrainingError, match="at most 64"):
        train_classifier(separable_dataset(), SMALL.with_changes(seq_len=128, pos_num=128), checkpoint=files)


def test_our_writer_round_trips_through_keras_berts_loader(google_folder, tmp_path):
    pretraining = _keras_bert_encoder(google_folder, 64, training=True)
    files = read_checkpoint(google_folder)
    folder = save_checkpoint(pretraining, SMALL, files.vocabulary, tmp_path / "ours")
    again = _keras_bert_encoder(folder, 64, training=True)
    assert again.count_params() == pretraining.count_params()
    for layer in pretraining.layers:
        for ours, theirs in zip(again.get_layer(layer.name).get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
    assert json.loads((folder / "bert_config.json").read_text()) == json.loads(
        (google_folder / "bert_config.json").read_text()
    )
    with zipfile.ZipFile(io.BytesIO(zip_checkpoint(folder, inside="mine"))) as archive:
        assert sorted(archive.namelist()) == sorted(
            f"mine/{name}"
            for name in (
                "bert_config.json",
                "vocab.txt",
                "bert_model.ckpt.index",
                "bert_model.ckpt.data-00000-of-00001",
            )
        )


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _config_with(entries: dict[str, bytes], **changes) -> bytes:
    return json.dumps({**json.loads(entries["bert_config.json"]), **changes}).encode()


def _google_entries(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: {k: v for k, v in e.items() if k != "bert_config.json"}, "no bert_config.json"),
        (lambda e: {**e, "../../etc/evil": b"x"}, "outside a checkpoint folder"),
        (lambda e: {**e, "run.py": b"import os"}, "not part of a BERT checkpoint"),
        (lambda e: {**e, "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nword\n"}, "vocab_size 64"),
        (lambda e: {**e, "bert_config.json": b"{not json"}, "not valid JSON"),
        (lambda e: {**e, "bert_config.json": json.dumps({"hidden_size": 16}).encode()}, "vocab_size"),
        (lambda e: {**e, "bert_config.json": _config_with(e, vocab_size=300_000)}, "at most 250,000"),
        (lambda e: {**e, **{f"empty/{i}": b"" for i in range(100)}}, "lists 106 files"),
    ],
)
def test_a_broken_checkpoint_zip_is_refused_in_one_sentence(google_folder, tmp_path, change, fragment):
    payload = _zip(change(_google_entries(google_folder)))
    with pytest.raises(BundleError, match=fragment):
        open_checkpoint(payload, tmp_path / "c")
    assert not (tmp_path / "etc").exists()


def test_not_a_zip_is_refused(tmp_path):
    with pytest.raises(BundleError, match="not a zip"):
        unpack_checkpoint(b"PK\x03\x04 truncated", tmp_path / "c")


def test_a_truncated_weights_file_is_refused_when_loading(google_folder, tmp_path):
    folder = open_checkpoint(google_folder, tmp_path / "c").folder
    data = folder / "bert_model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    files = read_checkpoint(folder)
    with pytest.raises(BundleError, match="cut short"):
        build_classifier(files.model_config(16), 2, checkpoint=files)


def test_weights_of_another_shape_are_refused(google_folder, tmp_path):
    folder = open_checkpoint(google_folder, tmp_path / "c").folder
    config = json.loads((folder / "bert_config.json").read_text())
    (folder / "bert_config.json").write_text(json.dumps({**config, "intermediate_size": 48}))
    files = read_checkpoint(folder)
    with pytest.raises(BundleError, match="do not belong together"):
        build_classifier(files.model_config(16), 2, checkpoint=files)
