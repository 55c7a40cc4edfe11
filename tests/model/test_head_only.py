"""Training the head only on a frozen pretrained encoder: the encoder is untouched, the head trains
with fine-tuning's epochs and records, and the result is the whole classifier, saved and predicted
with as a fine-tuned one."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import TrainingError
from bertviz_core.model.bundle import load_bundle, save_bundle
from bertviz_core.model.checkpoint import open_checkpoint
from bertviz_core.model.classifier import build_classifier, predict_proba
from bertviz_core.model.training import EPOCH_KEYS, train_classifier
from bertviz_core.settings import FROZEN, TrainSettings
from tests.helpers import refusal, separable_dataset
from tests.model.checkpoints import write_google_checkpoint

pytestmark = pytest.mark.slow

SMALL = ModelConfig(vocab=64, seq_len=64, pos_num=64, embed_dim=16, heads=2, layers=2, ff_dim=32)
HEAD_ONLY = TrainSettings(epochs=5, batch_size=16, learning_rate=1e-2, seed=3, patience=5, encoder=FROZEN)


class Recorder:
    def __init__(self, stop_after_texts: int | None = None) -> None:
        self.encoding: list[tuple[int, int]] = []
        self.epochs: list[dict] = []
        self.stop_after_texts = stop_after_texts

    def on_encoding(self, done: int, total: int) -> None:
        self.encoding.append((done, total))

    def on_epoch_end(self, record: dict) -> None:
        self.epochs.append(record)

    def should_stop(self) -> bool:
        return (
            self.stop_after_texts is not None
            and bool(self.encoding)
            and (self.encoding[-1][0] >= self.stop_after_texts)
        )


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    folder = write_google_checkpoint(
        tmp_path_factory.mktemp("google") / "uncased_L-2_H-16_A-2", SMALL, seed=1
    )
    return open_checkpoint(folder, tmp_path_factory.mktemp("stored"))


@pytest.fixture(scope="module")
def head_only(start):
    recorder = Recorder()
    bundle = train_classifier(separable_dataset(), SMALL.with_changes(seq_len=16), HEAD_ONLY, recorder, start)
    return bundle, recorder


def test_only_the_head_changes_and_the_result_is_the_whole_classifier(head_only, start):
    bundle, _ = head_only
    untouched = build_classifier(bundle.config, 2, seed=HEAD_ONLY.seed, checkpoint=start)
    for layer in untouched.layers:
        ours = bundle.model.get_layer(layer.name).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(ours, layer.get_weights(), strict=True))
        assert same == (layer.name != "Classifier"), layer.name
    assert bundle.metrics["trained_parameters"] == 16 * 2 + 2
    assert bundle.metrics["parameters"] == bundle.model.count_params()
    assert bundle.settings["encoder"] == FROZEN


def test_the_epochs_are_recorded_as_fine_tunings_are(head_only):
    bundle, recorder = head_only
    history = bundle.metrics["history"]
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5] and recorder.epochs == history
    assert all(set(EPOCH_KEYS) <= set(record) for record in history)
    assert bundle.metrics["best_epoch"] in range(1, 6)
    assert 0 < bundle.metrics["encoding_seconds"] <= bundle.metrics["training_seconds"]
    # The encoder read every text once, and said so as it went.
    texts = bundle.metrics["train_samples"] + bundle.metrics["val_samples"]
    assert recorder.encoding[-1] == (texts, texts)
    assert all(total == texts for _, total in recorder.encoding)


def test_the_saved_classifier_predicts_what_validation_measured(head_only, tmp_path):
    bundle, _ = head_only
    texts = bundle.validation["texts"]
    recorded = np.asarray(bundle.validation["probabilities"])
    np.testing.assert_allclose(predict_proba(bundle, texts), recorded, atol=1e-5)
    loaded = load_bundle(save_bundle(bundle, tmp_path / "bundle"))
    assert np.array_equal(predict_proba(loaded, texts), predict_proba(bundle, texts))
    accuracy = (recorded.argmax(axis=1) == np.asarray(bundle.validation["true"])).mean()
    assert accuracy == pytest.approx(bundle.metrics["val_accuracy"])


def test_the_same_seed_trains_the_same_head(head_only, start):
    bundle, _ = head_only
    again = train_classifier(separable_dataset(), SMALL.with_changes(seq_len=16), HEAD_ONLY, checkpoint=start)
    assert [record["val_loss"] for record in again.metrics["history"]] == [
        record["val_loss"] for record in bundle.metrics["history"]
    ]


def test_a_stop_while_the_encoder_reads_keeps_nothing(start):
    message = refusal(
        TrainingError, train_classifier, separable_dataset(), SMALL.with_changes(seq_len=16), HEAD_ONLY,
        Recorder(stop_after_texts=1), start,
    )  # fmt: skip
    assert "still reading the texts" in message


def test_the_head_only_needs_a_pretrained_encoder():
    message = refusal(TrainingError, train_classifier, separable_dataset(), SMALL, HEAD_ONLY)
    assert "pretrained encoder" in message
