"""Pretraining on a data set's texts (masked words, next sentences) and its checkpoint in Google's
layout, read back by keras-bert's own loader."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.arithmetic.training_memory import estimate_pretraining_memory, pretraining_job_mb
from bertviz_core.budget import check_pretraining_fits
from bertviz_core.data.tokens import SPECIAL_TOKENS, UNK
from bertviz_core.errors import MemoryGuardError, TrainingError
from bertviz_core.model import runtime
from bertviz_core.model.checkpoint import read_checkpoint
from bertviz_core.model.pretraining import (
    EPOCH_KEYS,
    PRETRAINING_FILE,
    MaskedBatches,
    pretrain,
    pretraining_vocabulary,
    save_pretrained,
    sentence_pairs,
)
from bertviz_core.settings import TrainSettings
from tests.helpers import refusal

pytestmark = pytest.mark.slow

TINY = ModelConfig(vocab=64, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32)
QUICK = TrainSettings(epochs=4, batch_size=8, learning_rate=0.005, seed=0)
# A small repetitive corpus: a few sentences, many times each, so masked words are predictable.
SENTENCES = (
    "the cat sat on the mat",
    "the dog ate the bone",
    "a bird sang in the tree",
    "my kettle boils water fast",
    "this lamp is very bright",
    "our soup was cold and salty",
)
CORPUS = tuple(SENTENCES[i % len(SENTENCES)] for i in range(96))


class StopAfter:
    """Asks to stop once ``batches`` batches have ended; remembers every call."""

    def __init__(self, batches: int) -> None:
        self.batches, self.seen, self.epochs = batches, [], []

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        self.seen.append((epoch, batch, batches_per_epoch))

    def on_epoch_end(self, record: dict) -> None:
        self.epochs.append(record)

    def should_stop(self) -> bool:
        return len(self.seen) >= self.batches


@pytest.fixture(scope="module")
def pretrained():
    return pretrain(CORPUS, TINY, QUICK)


# --- pairs and batches, keras-bert's gen_batch_inputs -----------------------------------------------
def test_each_text_is_split_into_two_halves_that_fit_the_sequence():
    vocabulary, words = pretraining_vocabulary(["one two three", "solo", "one two"], 12)
    assert words == 4 and vocabulary.tokens[:5] == SPECIAL_TOKENS
    assert vocabulary.tokens[5:] == ("one", "two", "solo", "three", "[unused0]", "[unused1]", "[unused2]")
    pairs = sentence_pairs(["One two three, four!", "solo", "   ", "Zebra one"], vocabulary, seq_len=8)
    assert pairs == [
        (["one", "two"], ["three", UNK, UNK]),  # cut to 8 - 3 = 5 words, then halved
        (["solo"], []),
        ([UNK], ["one"]),  # the text without words is left out
    ]
    with pytest.raises(TrainingError, match="at least 5"):
        sentence_pairs(["a b"], vocabulary, seq_len=4)


def test_batches_are_keras_berts_own_and_depend_on_the_seed_alone():
    keras_bert = runtime.keras_bert()
    vocabulary, words = pretraining_vocabulary(CORPUS, 40)
    pairs = sentence_pairs(CORPUS, vocabulary, 16)

    def first_batch(seed: int):
        return next(MaskedBatches(pairs, vocabulary, words, 16, 32, seed).epoch())

    inputs, targets = first_batch(3)
    again, again_targets = first_batch(3)
    for name in inputs:
        assert np.array_equal(inputs[name], again[name]), name
    assert not np.array_equal(inputs["Input-Masked"], first_batch(4)[0]["Input-Masked"])
    assert inputs["Input-Token"].shape == (32, 16) and targets["MLM"].shape == (32, 16, 1)
    assert targets["NSP"].shape == (32, 1) and set(np.unique(targets["NSP"])) <= {0, 1}
    # Exactly what gen_batch_inputs gives from NumPy's global generator seeded the same way.
    batches = MaskedBatches(pairs, vocabulary, words, 16, 32, 3)
    order = np.random.default_rng(3).permutation(len(pairs))[:32]
    np.random.seed(3)
    (tokens, segments, masked), (mlm, nsp) = keras_bert.gen_batch_inputs(
        [pairs[i] for i in order], batches.token_dict, batches.replacements, seq_len=16
    )
    assert np.array_equal(tokens, inputs["Input-Token"]) and np.array_equal(masked, inputs["Input-Masked"])
    assert np.array_equal(mlm, targets["MLM"]) and np.array_equal(nsp, targets["NSP"])
    # Padding is [PAD] (id 0), never [UNK]; a masked position is a word, never [PAD] or [unused...].
    ids = targets["MLM"][..., 0]
    lengths = (ids != 0).sum(axis=1)
    assert all((row[length:] == 0).all() for row, length in zip(ids, lengths, strict=True))
    chosen = ids[inputs["Input-Masked"] == 1]
    assert chosen.min() >= len(SPECIAL_TOKENS) and chosen.max() < len(SPECIAL_TOKENS) + words
    assert inputs["Input-Token"].max() < len(SPECIAL_TOKENS) + words


# --- memory -----------------------------------------------------------------------------------------
def test_the_memory_guard_counts_the_masked_word_output_and_refuses_in_one_sentence():
    base = estimate_pretraining_memory(TINY, 32)
    wider = estimate_pretraining_memory(TINY.with_changes(vocab=20_000), 32)
    # The MLM output grows with batch × sequence × vocabulary, beyond the parameters' own state.
    assert wider.activation_bytes - base.activation_bytes >= 32 * 16 * (20_000 - 64) * 4
    assert base.parameters == total_params(TINY.with_changes(encoder_only=False))
    assert pretraining_job_mb(TINY, 32) == base.total_mb  # the whole worker process, TensorFlow included
    big = TINY.with_changes(vocab=30_000, seq_len=512, pos_num=512)
    message = refusal(MemoryGuardError, check_pretraining_fits, big, 64, budget_mb=1000)
    assert "MB" in message and "1,000 MB" in message and "batch of 64" in message
    # pretrain refuses before it builds anything.
    message = refusal(MemoryGuardError, pretrain, CORPUS, big, TrainSettings(batch_size=64))
    assert "Pretraining this model would need about" in message


# --- training ---------------------------------------------------------------------------------------
def test_the_masked_word_loss_falls_and_records_every_epoch(pretrained):
    history = pretrained.history
    assert [record["epoch"] for record in history] == [1, 2, 3, 4]
    assert all(set(EPOCH_KEYS) <= set(record) for record in history)
    losses = [record["mlm_loss"] for record in history]
    assert losses[-1] < 0.7 * losses[0], losses
    assert history[-1]["mlm_accuracy"] > history[0]["mlm_accuracy"]
    assert all(0.0 <= record["nsp_accuracy"] <= 1.0 and record["seconds"] > 0 for record in history)
    assert pretrained.kept_epoch == 4 and not pretrained.stopped_by_user
    assert pretrained.texts == len(CORPUS) and pretrained.config == TINY.with_changes(encoder_only=False)
    assert pretrained.model.count_params() == total_params(pretrained.config)


def test_the_masked_word_accuracy_counts_the_masked_positions_only(pretrained):
    vocabulary = pretrained.vocabulary
    batches = MaskedBatches(
        sentence_pairs(CORPUS, vocabulary, 16), vocabulary, pretrained.words, 16, 64, seed=7
    )
    inputs, targets = next(batches.epoch())
    predicted = np.asarray(pretrained.model(inputs, training=False)[0]).argmax(axis=-1)
    masked = inputs["Input-Masked"] == 1
    by_hand = float((predicted == targets["MLM"][..., 0])[masked].mean())
    figures = pretrained.model.evaluate(inputs, targets, verbose=0, return_dict=True)
    assert figures["MLM_accuracy"] == pytest.approx(by_hand, abs=1e-6)


def test_stop_keeps_the_last_complete_epoch():
    one_epoch = pretrain(CORPUS, TINY, replace(QUICK, epochs=1))
    per_epoch = 12  # 96 texts / 8
    progress = StopAfter(per_epoch + 3)
    stopped = pretrain(CORPUS, TINY, QUICK, progress)
    assert stopped.stopped_by_user and stopped.kept_epoch == 1
    assert len(stopped.history) == 1 and progress.epochs == stopped.history  # the cut epoch is not recorded
    assert progress.seen[0] == (1, 1, per_epoch) and progress.seen[-1] == (2, 3, per_epoch)
    # The same seed trains the same first epoch, whose weights the stopped run went back to.
    for mine, theirs in zip(stopped.model.get_weights(), one_epoch.model.get_weights(), strict=True):
        assert np.array_equal(mine, theirs)


def test_a_stop_before_the_first_epoch_ends_is_a_sentence():
    message = refusal(TrainingError, pretrain, CORPUS, TINY, QUICK, StopAfter(2))
    assert "before the first epoch finished" in message


def test_texts_without_words_are_refused():
    message = refusal(TrainingError, pretrain, ["", "  ", "!"], TINY, QUICK)
    assert "at least two texts" in message


# --- the checkpoint, read back by keras-bert ---------------------------------------------------------
def _same_weights(layer, other) -> None:
    mine, theirs = layer.get_weights(), other.get_weights()
    assert len(mine) == len(theirs), layer.name
    for a, b in zip(mine, theirs, strict=True):
        assert np.array_equal(a, b), layer.name


def test_the_checkpoint_loads_back_through_keras_bert_with_every_weight(pretrained, tmp_path):
    folder = save_pretrained(pretrained, tmp_path / "pretrained")
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["bert_config.json", "bert_model.ckpt.index", "bert_model.ckpt.data-00000-of-00001", "vocab.txt",
         PRETRAINING_FILE]
    )  # fmt: skip
    record = json.loads((folder / PRETRAINING_FILE).read_text())
    assert record["history"] == pretrained.history and record["texts"] == len(CORPUS)
    assert record["settings"]["learning_rate"] == QUICK.learning_rate
    files = read_checkpoint(folder)
    assert files.vocabulary == pretrained.vocabulary and not files.vocabulary.word_pieces
    assert files.config == TINY.with_changes(encoder_only=True)

    keras_bert = runtime.keras_bert()
    config_path, prefix = str(folder / "bert_config.json"), str(folder / "bert_model.ckpt")
    whole = keras_bert.load_trained_model_from_checkpoint(config_path, prefix, training=True)
    assert whole.count_params() == pretrained.model.count_params()
    weighted = [layer for layer in pretrained.model.layers if layer.weights]
    assert {layer.name for layer in weighted} >= {"MLM-Dense", "MLM-Norm", "MLM-Sim", "NSP-Dense", "NSP"}
    for layer in weighted:
        _same_weights(layer, whole.get_layer(layer.name))
    inputs, _ = next(
        MaskedBatches(sentence_pairs(CORPUS, pretrained.vocabulary, 16), pretrained.vocabulary,
                      pretrained.words, 16, 16, seed=1).epoch()
    )  # fmt: skip
    for mine, theirs in zip(
        pretrained.model(inputs, training=False), whole(inputs, training=False), strict=True
    ):
        assert np.array_equal(np.asarray(mine), np.asarray(theirs))

    encoder = keras_bert.load_trained_model_from_checkpoint(config_path, prefix, training=False)
    assert encoder.count_params() == total_params(TINY.with_changes(encoder_only=True))
    for layer in encoder.layers:
        if layer.weights:
            _same_weights(layer, pretrained.model.get_layer(layer.name))
