"""Training memory by arithmetic: what a worker process training, pretraining, predicting or
building a model holds at its peak, as theory (weights, gradients, Adam's moments, activations) plus
what this machine adds (TensorFlow's runtime, weight copies, what TensorFlow keeps besides).

Pure arithmetic on a ``ModelConfig``: nothing here reads the machine. The constants were fitted on
measured peaks (``benchmarks/memory_calibration.py``); the budget they are held to, and the guard,
are ``bertviz_core.budget``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import ConfigError
from bertviz_core.fields import FINE_TUNE, FROZEN
from bertviz_core.text import MIB

# Measured with `size --verify` on a 2-core machine (peak resident memory of the whole process):
# a tiny model 668 MiB, BERT-base 1,147 MiB, BERT-large 2,098 MiB, so TensorFlow and keras-bert
# hold about 670 MiB and the build about 4.5 bytes per parameter (the fp32 weights plus the
# initialisers' temporaries). The guard rounds both up.
TF_BASELINE_MB = 700
BUILD_BYTES_PER_PARAM = 5.0
# Of a TensorFlow process's resident memory, the file-backed pages of its libraries: the kernel keeps
# them once however many worker processes map them (measured: a worker's RSS minus its unique set
# size, 405-410 MB). The job pool counts them once; each estimate above includes them.
TF_SHARED_LIBRARIES_MB = 400

# Training memory = theory + what this machine adds (``TrainingMemory``).
# Theory, per parameter in fp32: the weights, their gradients and Adam's two moments, 4 bytes each.
WEIGHT_BYTES_PER_PARAM = costs.BYTES_PER_VALUE["fp32"]
GRADIENT_BYTES_PER_PARAM = costs.BYTES_PER_VALUE["fp32"]
ADAM_MOMENT_BYTES_PER_PARAM = 2 * costs.BYTES_PER_VALUE["fp32"]
# What this machine adds, fitted on the peak resident memory of real training runs
# (benchmarks/memory_calibration.py; the table and its test: tests/benchmarks/test_memory_calibration.py):
# eight new models from 0.2M to 23M parameters, and all-MiniLM-L6-v2 fine-tuned at sequence 64 and 128,
# batch 16 and 32 (estimate / measured 0.92-1.08 over the twelve):
# - a training process holds TensorFlow and keras-bert (600 MB, FIELD_NOTES), tf.data, the traced
#   training and validation functions, the TF-IDF baseline and allocator slack before the model;
# - copies of the weights beyond the theory's one: the trainer's copy of the best epoch's weights
#   (4 bytes per parameter), Adam's update temporaries, the build's initial values and, from a
#   checkpoint, what loading it leaves (fitted: 10.5 bytes per parameter in all);
# - TensorFlow keeps about as much again as the textbook activations: keras-self-attention's
#   A·S² score tensors (scaled, masked, shifted, exponentiated, normalised: about twice the textbook's
#   two), keras-bert's tanh GELU's temporaries (a new model's; a Hugging Face start's exact GELU keeps
#   none, activations.GeluErf), dropout masks, layer-norm temporaries and the allocator's free blocks.
#   Fitted separately, the three shares were within 5 % everywhere but needed the GELU; one factor
#   keeps the estimate a function of the model alone, within 8 %.
TRAINING_RUNTIME_MB = 910
WEIGHT_COPIES_BYTES_PER_PARAM = 10.5
ACTIVATION_FACTOR = 2.0  # measured activations ÷ the textbook count

# Training the head only (settings.FROZEN, model.head_only): the encoder reads the texts ENCODE_BATCH at a
# time in inference mode. Theory: the weights, and gradients and Adam's moments for the head alone; no
# activations are kept for a backward pass. What this machine adds, fitted on all-MiniLM-L6-v2 at
# sequence 64 and 128 (1,152 and 1,227 MB): the runtime, what building the classifier and loading the
# checkpoint leave (4.7 bytes per parameter), and the forward pass's live tensors, 0.38 of one encoder
# block's textbook activations for ENCODE_BATCH texts (a block's tensors are freed as the next is made).
ENCODE_BATCH = 64  # texts per forward pass of the frozen encoder (model.head_only)
FROZEN_COPIES_BYTES_PER_PARAM = 4.7
FORWARD_LIVE_SHARE = 0.38


# --- a real build (the explorer's proof) ---------------------------------------------------------
def estimated_build_mb(config: ModelConfig) -> int:
    """Peak resident memory of a fresh process that builds this model."""
    return int(TF_BASELINE_MB + total_params(config) * BUILD_BYTES_PER_PARAM / MIB)


@dataclass(frozen=True)
class TrainingMemory:
    """Peak resident memory of a worker process that trains a model, in bytes: theory, then what
    this machine adds. The one breakdown behind the memory guard, the job pool and both pages.

    Theory: ``weights``, ``gradients`` and ``adam_moments`` (4, 4 and 8 bytes per parameter) and the
    textbook ``activations`` (``costs.activation_values``: every layer's output plus Q, K, V, the
    A·S² scores and softmax and the F-wide hidden layer, fp32, times the batch). This machine:
    ``runtime`` (TensorFlow's process), ``weight_copies`` (the best epoch's weights, Adam's update
    temporaries) and
    ``tensorflow_extra`` (what TensorFlow keeps beyond the textbook activations).
    """

    parameters: int
    batch_size: int
    weights: int
    gradients: int
    adam_moments: int
    activations: int
    runtime: int
    weight_copies: int
    tensorflow_extra: int
    encoder: str = FINE_TUNE  # FROZEN: only the head trains (gradients and moments of its parameters)
    trained_parameters: int | None = None  # None: every parameter

    @property
    def theory_bytes(self) -> int:
        return self.weights + self.gradients + self.adam_moments + self.activations

    @property
    def machine_bytes(self) -> int:
        return self.runtime + self.weight_copies + self.tensorflow_extra

    @property
    def total_mb(self) -> int:
        """The estimate of the process's peak resident memory, in MB (MiB), rounded up."""
        return math.ceil((self.theory_bytes + self.machine_bytes) / MIB)

    @property
    def theory_mb(self) -> int:
        return round(self.theory_bytes / MIB)

    @property
    def machine_mb(self) -> int:
        """The rest of ``total_mb``, so that theory and machine add up to the total as shown."""
        return self.total_mb - self.theory_mb

    @property
    def activation_bytes(self) -> int:
        """The textbook activations (the theory's share)."""
        return self.activations

    def theory_sentence(self) -> str:
        state = self.weights + self.gradients + self.adam_moments
        if self.encoder == FROZEN:
            return (
                f"Theory {self.theory_mb:,} MB: {self.parameters:,} parameters × 4 bytes (the weights in fp32; a "
                f"frozen encoder has no gradients and no Adam moments, only the head's {self.trained_parameters:,} "
                f"parameters have) = {_mb(state)} MB; the encoder only reads the texts, so no activations are "
                "kept for a backward pass."
            )
        return (
            f"Theory {self.theory_mb:,} MB: {self.parameters:,} parameters × 16 bytes (weights, gradients and "
            f"Adam's two moments, 4 bytes each in fp32) = {_mb(state)} MB, plus the textbook activations for "
            f"a batch of {self.batch_size:,} = {_mb(self.activations)} MB."
        )

    def machine_sentence(self) -> str:
        if self.encoder == FROZEN:
            return (
                f"This machine adds {self.machine_mb:,} MB: TensorFlow's runtime {_mb(self.runtime)} MB, "
                f"{_mb(self.weight_copies)} MB that building the classifier and loading the checkpoint leave "
                f"({FROZEN_COPIES_BYTES_PER_PARAM} bytes per parameter) and {_mb(self.tensorflow_extra)} MB of "
                f"the forward pass's live tensors for {ENCODE_BATCH} texts at a time."
            )
        return (
            f"This machine adds {self.machine_mb:,} MB: TensorFlow's runtime {_mb(self.runtime)} MB, "
            f"{_mb(self.weight_copies)} MB of weight copies ({WEIGHT_COPIES_BYTES_PER_PARAM} bytes per parameter: "
            f"the best epoch's weights, Adam's update temporaries, loading) and {_mb(self.tensorflow_extra)} MB that "
            "TensorFlow keeps beyond the textbook activations (dropout masks, GELU and layer-norm temporaries, "
            "allocator slack)."
        )


# The machine's share as a formula, beside costs.FORMULAS' theory.
MACHINE_FORMULA = (
    f"{TRAINING_RUNTIME_MB:,} MB (TensorFlow's runtime) + parameters × {WEIGHT_COPIES_BYTES_PER_PARAM} bytes "
    "(weight copies: the best epoch's weights, Adam's update temporaries, loading) "
    f"+ {ACTIVATION_FACTOR - 1:.1f} × activations (what TensorFlow keeps besides)"
)


def _mb(count: int) -> str:
    return f"{count / MIB:,.0f}"


def _training_memory(
    parameters: int,
    batch_size: int,
    activations: int,
    tensorflow_extra: int,
    trained: int | None = None,
    copies_per_param: float = WEIGHT_COPIES_BYTES_PER_PARAM,
    encoder: str = FINE_TUNE,
) -> TrainingMemory:
    """The parts of the estimate; ``trained`` parameters (all of them unless given) have gradients
    and Adam's moments."""
    with_gradients = parameters if trained is None else trained
    return TrainingMemory(
        parameters=parameters,
        batch_size=batch_size,
        weights=parameters * WEIGHT_BYTES_PER_PARAM,
        gradients=with_gradients * GRADIENT_BYTES_PER_PARAM,
        adam_moments=with_gradients * ADAM_MOMENT_BYTES_PER_PARAM,
        activations=activations,
        runtime=TRAINING_RUNTIME_MB * MIB,
        weight_copies=int(parameters * copies_per_param),
        tensorflow_extra=tensorflow_extra,
        encoder=encoder,
        trained_parameters=trained,
    )


def estimate_training_memory(
    config: ModelConfig, num_classes: int, batch_size: int, encoder: str = FINE_TUNE
) -> TrainingMemory:
    """Training memory of keras-bert's encoder plus a softmax classifier on the tokens' average (the training page's
    model, whatever heads ``config`` has), with Adam in fp32: every layer trained (``FINE_TUNE``), or the head
    only on a frozen encoder (``FROZEN``, ``model.head_only``)."""
    model = config.with_changes(encoder_only=True)
    if encoder == FROZEN:
        return _frozen_memory(model, num_classes, batch_size)
    activations = costs.memory(model, batch_size).activation_bytes
    return _training_memory(
        costs.classifier_params(model, num_classes),
        batch_size,
        activations,
        int(activations * (ACTIVATION_FACTOR - 1)),
    )


def _frozen_memory(model: ModelConfig, num_classes: int, batch_size: int) -> TrainingMemory:
    one_block = costs.memory(model, ENCODE_BATCH).activation_bytes / model.layers
    return _training_memory(
        costs.classifier_params(model, num_classes),
        batch_size,
        0,  # a forward pass keeps nothing for a backward one
        int(one_block * FORWARD_LIVE_SHARE),
        trained=model.embed_dim * num_classes + num_classes,
        copies_per_param=FROZEN_COPIES_BYTES_PER_PARAM,
        encoder=FROZEN,
    )


def training_job_mb(config: ModelConfig, num_classes: int, batch_size: int, encoder: str = FINE_TUNE) -> int:
    """Peak resident memory of a worker process that trains this model, TensorFlow included."""
    return estimate_training_memory(config, num_classes, batch_size, encoder).total_mb


def prediction_job_mb(config: ModelConfig, num_classes: int) -> int:
    """A worker that loads a trained classifier and runs short batches of texts through it."""
    parameters = costs.classifier_params(config.with_changes(encoder_only=True), num_classes)
    return TF_BASELINE_MB + int(parameters * 2 * costs.BYTES_PER_VALUE["fp32"] / MIB) + 50


# Points of the integrated-gradients path per forward and backward pass (model.inspect).
EXPLANATION_BATCH = 16


def explanation_job_mb(config: ModelConfig, num_classes: int) -> int:
    """A worker that loads a trained classifier and looks inside it for one text: a prediction
    worker plus the activations, kept for the backward pass, of ``EXPLANATION_BATCH`` texts."""
    activations = costs.memory(config.with_changes(encoder_only=True), EXPLANATION_BATCH).activation_bytes
    return prediction_job_mb(config, num_classes) + int(activations * ACTIVATION_FACTOR / MIB) + 1


# The explorer has no data set: its training figure is for two classes (each more adds d + 1 parameters).
EXPLORER_CLASSES = 2


def as_trained(config: ModelConfig) -> ModelConfig | None:
    """The model the training page trains from ``config``: the encoder, positions = sequence length."""
    try:
        return config.with_changes(pos_num=config.seq_len, encoder_only=True)
    except ConfigError:
        return None


def explorer_training_memory(config: ModelConfig, batch_size: int) -> TrainingMemory:
    """The explorer's "Training memory": its model as the training page trains it (the encoder with
    positions = sequence length and a 2-class softmax on the tokens' average, MLM and NSP heads left out), so the
    two pages show one figure for one model and batch."""
    trained = as_trained(config) or config.with_changes(encoder_only=True)
    return estimate_training_memory(trained, EXPLORER_CLASSES, batch_size)


# --- pretraining (masked words and next sentences) -------------------------------------------------
# The MLM output is a softmax over the whole vocabulary at every position: batch × S × V values,
# however few positions are masked. Training keeps several tensors of that size at once (the scores,
# the softmax, keras-bert's Masked copy, the clipped log-probabilities of the loss and their
# gradients). Measured on 2 cores (peak resident memory of a whole pretraining run, d 128, 2 blocks,
# F 512): batch 32 and S 64 with V 200 / 5,000 / 20,000 / 40,000 took 929 / 1,135 / 1,817 / 2,542 MB,
# about 5 to 5.5 such tensors per step besides the parameters' state; batch 64 or S 128 at V 20,000
# 2,581 and 2,741 MB. With 5 and the training's machine constants, the estimate is 0-7 % above
# those peaks.
MLM_OUTPUT_COPIES = 5


def estimate_pretraining_memory(config: ModelConfig, batch_size: int) -> TrainingMemory:
    """Pretraining memory of the model with its MLM and NSP heads, split as for training.

    Theory: 16 bytes per parameter of the pretraining model and its textbook activations (which count
    the MLM output over the vocabulary twice: the similarity scores and the masked copy). This
    machine: the runtime and the best weights copy as for training, the encoder's activations times
    ``ACTIVATION_FACTOR`` and ``MLM_OUTPUT_COPIES`` batch × S × V tensors in all, less the textbook's.
    """
    model = config.with_changes(encoder_only=False)
    textbook = costs.memory(model, batch_size).activation_bytes
    encoder = costs.memory(config.with_changes(encoder_only=True), batch_size).activation_bytes
    mlm_output = (
        MLM_OUTPUT_COPIES * batch_size * config.seq_len * config.vocab * costs.BYTES_PER_VALUE["fp32"]
    )
    measured_like = int(encoder * ACTIVATION_FACTOR) + mlm_output
    return _training_memory(total_params(model), batch_size, textbook, max(0, measured_like - textbook))


def pretraining_job_mb(config: ModelConfig, batch_size: int) -> int:
    """Peak resident memory of a worker process that pretrains this model, TensorFlow included."""
    return estimate_pretraining_memory(config, batch_size).total_mb
