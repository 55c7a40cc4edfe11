"""Pretraining on a data set's own texts: masked words and next sentences, as BERT was pretrained.

The seed notebook imported keras-bert's pretraining tools (``get_model(training=True)``,
``compile_model``, ``gen_batch_inputs``) and never used them. Here they pretrain a model on the
texts of a data set (its labels ignored), and ``save_pretrained`` writes the result as a checkpoint
in Google's layout (``checkpoint.save_checkpoint``) that keras-bert's own
``load_trained_model_from_checkpoint`` reads back, heads included.

- **The model** is ``get_model(training=True)`` as it is: inputs Input-Token, Input-Segment and
  Input-Masked; outputs MLM (a softmax over the vocabulary at every position, of which keras-bert's
  ``Masked`` layer keeps only the masked positions for the loss) and NSP (is the second segment
  the first one's continuation).
- **The vocabulary** comes from the texts (``build_vocabulary``: the most frequent whole words).
  When the texts hold fewer different words than the model's vocabulary, the remaining ids are
  filled with ``[unused0]``, ``[unused1]``, ... as in Google's ``vocab.txt``, so the checkpoint has
  exactly the parameters the configuration promised.
- **Sentence pairs** (``sentence_pairs``): the rows of a data set are usually single short texts
  (a review, a headline), and consecutive rows are unrelated, so "the next row" would make next
  sentence prediction a guess between two random texts. Each text is therefore split at the
  word boundary nearest its middle: (first half, second half) is the true pair, and
  ``gen_batch_inputs`` swaps in another text's second half for about half of them, so the model
  has to tell whether two halves come from one text (slow to learn: the NSP accuracy stays near
  chance for the first epochs, while the masked words are learnt from the start). A text
  longer than the sequence is cut to it before splitting, so a true second half always follows
  its first half directly, and any first half with any second half fits the sequence.
- **Masking** is keras-bert's ``gen_batch_inputs``, called batch by batch (15 % of the word
  positions are predicted; of those 80 % become [MASK], 10 % a random word, 10 % stay; at least
  one position per text). It is given what it expects of a vocabulary: its padding token
  (``TOKEN_PAD``, the empty string) mapped to id 0, which is our ``[PAD]``; a list of real words
  for random replacements (neither ``[PAD]`` nor ``[unused...]``); and words outside the
  vocabulary as ``[UNK]``, which it never masks (predicting "some unknown word" would teach
  nothing and inflate the accuracy). It draws from NumPy's global generator; each run keeps a
  generator state of its own and swaps it in around each batch under a lock, so the batches
  depend on the seed alone (provided nothing else in the process reseeds NumPy's global generator
  at that very moment; the app runs one job per worker process).
- **The optimizer**: keras-bert's ``compile_model`` cannot run on today's Keras: its
  ``AdamWarmup`` is written against the optimizer base class Keras 2.11 retired, and fails at once
  with ``'AdamWarmup' object has no attribute '_set_hyper'``. Its recipe (Adam with weight decay
  0.01, a linear warm-up over the first 10 % of the steps, then a linear decay to zero; tf-keras'
  ``AdamW`` with that schedule) was measured against plain Adam at the same learning rate, as the
  classifier trains: on the reviews sample with the training page's default model, 5 epochs, MLM
  accuracy 0.204 against 0.247 at 5e-4 and 0.252 against 0.259 at 1e-3. The warm-up spends steps
  that short runs cannot spare, so the model is compiled with plain Adam at the settings' learning
  rate, with compile_model's loss (sparse cross-entropy on both outputs) and an accuracy for each
  output. The MLM loss and accuracy count only the masked positions (Keras weights both by the
  ``Masked`` layer's mask, the loss divided by the number of masked positions).

The progress protocol is ``model.training``'s: ``on_batch_end(epoch, batch, batches_per_epoch)``,
``on_epoch_end(record)`` and ``should_stop()`` (polled after every batch). A stop keeps the last
completed epoch's weights; a stop before the first epoch ends is a TrainingError.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.budget import check_pretraining_fits
from bertviz_core.data.tokens import SPECIAL_TOKENS, UNK, Vocabulary, build_vocabulary, tokenizer
from bertviz_core.errors import TrainingError, VocabularyError
from bertviz_core.model import runtime
from bertviz_core.model.checkpoint import save_checkpoint
from bertviz_core.model.classifier import _seeded_dropout
from bertviz_core.settings import TrainSettings

PRETRAINING_FILE = "pretraining.json"
# Pretraining's own defaults, the page's and the command line's: fewer epochs than a classifier's
# (an epoch holds every text's masked words and a pair) and a constant Adam rate (no warm-up here).
DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE = 5, 5e-4
LEARNING_RATE_HELP = "Adam's step size, the same for every step (pretraining has no warm-up or decay)."
UNUSED = "[unused{}]"
# What every epoch record holds (``epoch`` counts from 1; a loss or accuracy is None when not finite).
EPOCH_KEYS = (
    "epoch",
    "loss",
    "mlm_loss",
    "mlm_accuracy",
    "nsp_loss",
    "nsp_accuracy",
    "seconds",
    "samples_per_second",
)
# Keras' log names for the record's figures (the outputs are keras-bert's layers MLM and NSP).
_LOG_KEYS = {
    "loss": "loss",
    "mlm_loss": "MLM_loss",
    "mlm_accuracy": "MLM_accuracy",
    "nsp_loss": "NSP_loss",
    "nsp_accuracy": "NSP_accuracy",
}
# Two fewer than the sequence for [CLS] and the two [SEP]; one word in each half at least.
MIN_SEQ_LEN = 5


@dataclass(frozen=True)
class PretrainResult:
    """A pretrained keras-bert model (MLM and NSP heads included) and how it was trained.

    ``config`` is the pretraining model's (``encoder_only`` False); ``history`` holds one record per
    completed epoch (``EPOCH_KEYS``); ``seconds`` is the whole fit.
    """

    model: Any  # tf.keras.Model with outputs MLM and NSP
    vocabulary: Vocabulary
    config: ModelConfig
    history: list[dict]
    seconds: float
    settings: dict = field(default_factory=dict)  # TrainSettings.to_dict()
    texts: int = 0  # texts with at least one word, each one sentence pair
    words: int = 0  # different words in the vocabulary (the rest is [unused...] filler)
    stopped_by_user: bool = False
    diverged: bool = False  # the loss became infinite or NaN; the last finite epoch was kept
    kept_epoch: int = 0  # the epoch whose weights the model holds

    def summary(self) -> dict:
        """JSON-ready: what ``pretraining.json`` holds and the pretraining task returns."""
        return {
            "history": [dict(record) for record in self.history],
            "settings": dict(self.settings),
            "config": self.config.to_dict(),
            "texts": self.texts,
            "vocabulary_words": self.words,
            "parameters": int(self.model.count_params()),
            "seconds": round(self.seconds, 3),
            "kept_epoch": self.kept_epoch,
            "stopped_by_user": self.stopped_by_user,
            "diverged": self.diverged,
        }


# --- data, no TensorFlow ------------------------------------------------------------------------
def pretraining_vocabulary(texts: Sequence[str], size: int) -> tuple[Vocabulary, int]:
    """The texts' most frequent words, filled up to ``size`` tokens with ``[unused0]``, ...; and how
    many real words it holds."""
    built = build_vocabulary(texts, size)
    words = built.word_count
    filler = tuple(UNUSED.format(index) for index in range(size - len(built)))
    return Vocabulary(built.tokens + filler), words


def sentence_pairs(
    texts: Sequence[str], vocabulary: Vocabulary, seq_len: int
) -> list[tuple[list[str], list[str]]]:
    """Each text with a word as (first half, second half) of its words (see the module docstring).

    Words outside the vocabulary become ``[UNK]``; a text is cut to ``seq_len - 3`` words (room for
    [CLS] and two [SEP]) before it is split, and a text of one word is (that word, nothing).
    """
    if seq_len < MIN_SEQ_LEN:
        raise TrainingError(
            f"A sequence length of {seq_len:,} leaves no room for two half texts between [CLS] and two [SEP]; "
            f"use at least {MIN_SEQ_LEN}."
        )
    split = tokenizer()  # keras-bert's basic tokenisation, as build_vocabulary counts words
    known = vocabulary.token_dict
    room = seq_len - 3
    pairs = []
    for text in texts:
        words = [word if word in known else UNK for word in split.tokenize(text)[1:-1][:room]]
        if words:
            cut = max(1, len(words) // 2)
            pairs.append((words[:cut], words[cut:]))
    return pairs


_numpy_global_random = threading.Lock()


class MaskedBatches:
    """keras-bert's ``gen_batch_inputs`` over shuffled sentence pairs, one epoch per ``epoch()`` call.

    Each call to ``epoch()`` shuffles the pairs anew (seeded) and yields ``(inputs, targets)`` per
    batch: inputs Input-Token, Input-Segment, Input-Masked (batch, seq_len); targets MLM (batch,
    seq_len, 1) token ids and NSP (batch, 1), 1 where the second half was swapped for another text's.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[list[str], list[str]]],
        vocabulary: Vocabulary,
        words: int,
        seq_len: int,
        batch_size: int,
        seed: int,
    ) -> None:
        keras_bert = runtime.keras_bert()
        self._generate = keras_bert.gen_batch_inputs
        self.pairs, self.seq_len, self.batch_size = list(pairs), seq_len, batch_size
        # gen_batch_inputs pads with TOKEN_PAD (""), never masks it, and looks every token up.
        self.token_dict = {**vocabulary.token_dict, keras_bert.TOKEN_PAD: 0}
        first_word = len(SPECIAL_TOKENS)
        self.replacements = list(vocabulary.tokens[first_word : first_word + words])
        self._order = np.random.default_rng(seed)
        self._state = np.random.RandomState(seed).get_state()

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.pairs) / self.batch_size)

    def epoch(self) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        order = self._order.permutation(len(self.pairs))
        for start in range(0, len(order), self.batch_size):
            yield self.batch([self.pairs[index] for index in order[start : start + self.batch_size]])

    def batch(
        self, pairs: list[tuple[list[str], list[str]]]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        with _numpy_global_random:
            saved = np.random.get_state()
            np.random.set_state(self._state)
            try:
                (tokens, segments, masked), (mlm, nsp) = self._generate(
                    pairs, self.token_dict, self.replacements, seq_len=self.seq_len
                )
                self._state = np.random.get_state()
            finally:
                np.random.set_state(saved)
        inputs = {"Input-Token": tokens, "Input-Segment": segments, "Input-Masked": masked}
        targets = {"MLM": mlm, "NSP": nsp}
        return (
            {name: value.astype(np.int32) for name, value in inputs.items()},
            {name: value.astype(np.int32) for name, value in targets.items()},
        )


# --- TensorFlow ---------------------------------------------------------------------------------
def build_pretraining_model(config: ModelConfig, seed: int = 0) -> Any:
    """keras-bert's ``get_model(training=True)`` for ``config``, its initial weights from ``seed``."""
    tf = runtime.tensorflow()
    keras_bert = runtime.keras_bert()
    tf.keras.utils.set_random_seed(seed)
    kwargs = config.with_changes(encoder_only=False).get_model_kwargs()
    with _seeded_dropout(tf):
        return keras_bert.get_model(**kwargs, training=True, trainable=True)


@functools.cache
def _progress_callback_class() -> type:
    # A class, not a model, so caching it is safe; it needs tf.keras, which is imported lazily.
    tf = runtime.tensorflow()

    class PretrainingCallback(tf.keras.callbacks.Callback):
        """Epoch records, the last completed epoch's weights, user stops, divergence."""

        def __init__(self, progress: Any, batches_per_epoch: int, samples: int) -> None:
            super().__init__()
            self.progress = progress
            self.batches_per_epoch, self.samples = batches_per_epoch, samples
            self.history: list[dict] = []
            self.kept_weights: list[np.ndarray] | None = None
            self.kept_epoch = 0
            self.stopped_by_user = False
            self.diverged = False
            self._supports_tf_logs = True  # batch logs are not read: spares a copy per batch

        def _call(self, name: str, *args: Any) -> Any:
            method = getattr(self.progress, name, None)
            return method(*args) if callable(method) else None

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_started = time.perf_counter()
            self.batches_done = 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.batches_done = batch + 1
            self._call("on_batch_end", len(self.history) + 1, self.batches_done, self.batches_per_epoch)
            if self._call("should_stop"):
                self.stopped_by_user = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if self.batches_done < self.batches_per_epoch:
                return  # stopped part-way: the figures would describe part of an epoch
            logs = logs or {}
            seconds = time.perf_counter() - self.epoch_started
            values = {name: float(logs.get(key, math.nan)) for name, key in _LOG_KEYS.items()}
            record = {
                "epoch": len(self.history) + 1,
                # None rather than NaN: the history goes into JSON, which has no NaN.
                **{name: (value if math.isfinite(value) else None) for name, value in values.items()},
                "seconds": round(seconds, 4),
                "samples_per_second": round(self.samples / max(seconds, 1e-9), 2),
            }
            self.history.append(record)
            if record["loss"] is None:
                self.diverged = True
                self.model.stop_training = True
            else:
                self.kept_weights = self.model.get_weights()  # NumPy copies, safe from later updates
                self.kept_epoch = record["epoch"]
            self._call("on_epoch_end", dict(record))

    return PretrainingCallback


def _dataset(tf: Any, batches: MaskedBatches) -> Any:
    seq_len = batches.seq_len
    signature = (
        {
            name: tf.TensorSpec((None, seq_len), tf.int32)
            for name in ("Input-Token", "Input-Segment", "Input-Masked")
        },
        {"MLM": tf.TensorSpec((None, seq_len, 1), tf.int32), "NSP": tf.TensorSpec((None, 1), tf.int32)},
    )
    # The generator is called anew for every epoch, so each epoch has its own masks and swaps.
    dataset = tf.data.Dataset.from_generator(batches.epoch, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches.batches_per_epoch)).prefetch(2)


def pretrain(
    texts: Sequence[str],
    config: ModelConfig,
    settings: TrainSettings | None = None,
    progress: Any | None = None,
) -> PretrainResult:
    """Pretrain keras-bert's model (MLM and NSP) on ``texts`` for ``settings.epochs`` epochs.

    Uses ``settings`` epochs, batch size, learning rate and seed (not the validation share or the
    patience: there is no validation here). Raises MemoryGuardError before anything is built when
    it would not fit, TrainingError (one sentence) for anything the user can change.
    """
    settings = settings or TrainSettings()
    config = config.with_changes(encoder_only=False)
    check_pretraining_fits(config, settings.batch_size)
    try:
        vocabulary, words = pretraining_vocabulary(texts, config.vocab)
    except VocabularyError as error:
        raise TrainingError(str(error)) from None
    pairs = sentence_pairs(texts, vocabulary, config.seq_len)
    if len(pairs) < 2:
        raise TrainingError(
            f"Pretraining needs at least two texts with words (it pairs halves of different texts), "
            f"and {'only one was' if pairs else 'none was'} found; choose the column of texts."
        )
    tf = runtime.tensorflow()
    batches = MaskedBatches(pairs, vocabulary, words, config.seq_len, settings.batch_size, settings.seed)
    model = build_pretraining_model(config, seed=settings.seed)
    model.compile(
        # Not keras-bert's compile_model, which cannot run on today's Keras (see the module docstring).
        optimizer=tf.keras.optimizers.Adam(learning_rate=settings.learning_rate),
        loss={"MLM": "sparse_categorical_crossentropy", "NSP": "sparse_categorical_crossentropy"},
        metrics={"MLM": ["accuracy"], "NSP": ["accuracy"]},
        jit_compile=False,  # measured slower on these CPUs (model.training's notes)
    )
    callback = _progress_callback_class()(progress, batches.batches_per_epoch, len(pairs))
    started = time.perf_counter()
    if not (callable(getattr(progress, "should_stop", None)) and progress.should_stop()):
        model.fit(_dataset(tf, batches), epochs=settings.epochs, callbacks=[callback], verbose=0)
    seconds = time.perf_counter() - started
    if callback.kept_weights is None:
        if callback.diverged:
            raise TrainingError(
                "The loss became infinite or NaN in the first epoch; lower the learning rate."
            )
        raise TrainingError(
            "Pretraining was stopped before the first epoch finished, so there is no model to keep; "
            "let it run at least one epoch."
        )
    if callback.kept_epoch != len(callback.history) or callback.stopped_by_user:
        model.set_weights(callback.kept_weights)
    return PretrainResult(
        model=model,
        vocabulary=vocabulary,
        config=config,
        history=callback.history,
        seconds=seconds,
        settings=settings.to_dict(),
        texts=len(pairs),
        words=words,
        stopped_by_user=callback.stopped_by_user,
        diverged=callback.diverged,
        kept_epoch=callback.kept_epoch,
    )


def save_pretrained(result: PretrainResult, folder: str | Path) -> Path:
    """The checkpoint in Google's layout (``checkpoint.save_checkpoint``) plus ``pretraining.json``
    (``PretrainResult.summary()``: history, settings, text count) beside it."""
    folder = save_checkpoint(result.model, result.config, result.vocabulary, folder)
    (folder / PRETRAINING_FILE).write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    return folder
