"""The memory budget, and the one guard every real build, training run and job goes through.

Each estimate is arithmetic (``arithmetic.costs``) plus what this machine adds, calibrated on
measured peak resident memory; each refusal is one sentence naming the need and the budget.
Counting never needs memory: only real work (TensorFlow) is guarded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig, valid_head_counts
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import ConfigError, MemoryGuardError
from bertviz_core.fields import MODEL_FIELD, MODEL_FIELDS
from bertviz_core.text import MIB

DEFAULT_BUDGET_MB = 2000

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

# Measured on 2 cores with tf-keras 2.21 (peak resident memory of a whole training run):
# - a training process holds about 800 MB before the model: TensorFlow and keras-bert (600 MB,
#   FIELD_NOTES), tf.data, traced functions and allocator slack;
# - per parameter, Adam's 16 bytes plus 4 for the copy of the best epoch's weights;
# - activations: 2.6 times the textbook count (costs.activation_values), because TensorFlow also
#   keeps dropout masks, GELU and layer-norm temporaries and the per-head reshapes. Fitted on
#   batches of 8, 32 and 64 (4 blocks, d 256, S 128): estimate within 5% of the measured peak.
TRAINING_RUNTIME_MB = 800
STATE_BYTES_PER_PARAM = costs.ADAM_BYTES_PER_PARAM + 4
ACTIVATION_FACTOR = 2.6

# The web server itself (Streamlit, pandas, plotly, the visitors' sessions) while workers train:
# jobs get the budget minus this. Measured on a server with both pages open in several tabs.
SERVER_RESERVE_MB = 300


def memory_budget_mb() -> int:
    """The most memory one real build or training run may take, in MB.

    ``BERTVIZ_MEMORY_BUDGET_MB`` sets it (Community Cloud apps get 690 MB to 2.7 GB); it is
    never more than what the machine has available right now.
    """
    raw = os.environ.get("BERTVIZ_MEMORY_BUDGET_MB", "")
    budget = int(raw) if raw.strip().isascii() and raw.strip().isdigit() else DEFAULT_BUDGET_MB
    available = psutil.virtual_memory().available // MIB
    return int(min(budget, available * 0.8, _container_limit_mb() or budget))


def _container_limit_mb() -> int | None:
    """The cgroup v2 memory limit (Docker, Community Cloud), which psutil does not see."""
    try:
        with open("/sys/fs/cgroup/memory.max") as limit_file:
            text = limit_file.read().strip()
    except OSError:
        return None
    return int(text) // MIB if text.isdigit() else None


# --- a real build (the explorer's proof) ---------------------------------------------------------
def estimated_build_mb(config: ModelConfig) -> int:
    """Peak resident memory of a fresh process that builds this model."""
    return int(TF_BASELINE_MB + total_params(config) * BUILD_BYTES_PER_PARAM / MIB)


def check_build_fits(config: ModelConfig, budget_mb: int | None = None, beside_server: bool = False) -> None:
    """Raise MemoryGuardError with a sentence when the real build would not fit (in a worker of the
    app's job pool, ``beside_server``, the web server's share of the budget is counted too)."""
    budget = memory_budget_mb() if budget_mb is None else budget_mb
    need = estimated_build_mb(config)
    server = SERVER_RESERVE_MB if beside_server else 0
    if need + server > budget:
        beside = f" beside the web server's {server:,} MB" if server else ""
        raise MemoryGuardError(
            f"Building this model for real would take about {need:,} MB{beside}, more than the {budget:,} MB "
            "this app allows, so only the arithmetic is shown (it is exact); shrink the model to see "
            "keras-bert's own table."
        )


# --- training ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingMemory:
    """Training memory on top of TensorFlow, by arithmetic (stated so the page can show it).

    ``state_bytes``: 20 bytes per parameter (weights, gradients and Adam's two moments in fp32,
    plus the best epoch's copy). ``activation_bytes``: per encoder block, batch × S × (12·d + 2·F)
    × 4 bytes plus batch × A × S² × 2 × 4 bytes for the attention scores and their softmax
    (``costs.activation_values``), times ``ACTIVATION_FACTOR`` for what TensorFlow keeps besides.
    """

    parameters: int
    state_bytes: int
    activation_bytes: int

    @property
    def total_mb(self) -> int:
        return int((self.state_bytes + self.activation_bytes) / MIB) + 1


def estimate_training_memory(config: ModelConfig, num_classes: int, batch_size: int) -> TrainingMemory:
    encoder = config.with_changes(encoder_only=True)
    parameters = costs.classifier_params(encoder, num_classes)
    return TrainingMemory(
        parameters=parameters,
        state_bytes=parameters * STATE_BYTES_PER_PARAM,
        activation_bytes=int(costs.memory(encoder, batch_size).activation_bytes * ACTIVATION_FACTOR),
    )


def training_budget_mb(beside_server: bool = False) -> int:
    """Memory a training run may take on top of TensorFlow: the app's budget minus the runtime, and
    minus the web server's share when it runs beside the app (a worker of the app's job pool).

    ``BERTVIZ_MEMORY_BUDGET_MB`` (default 2000) sets the whole budget, so a training gets 1200 MB
    on its own (the command line) and 900 MB in the app.
    """
    return max(0, memory_budget_mb() - TRAINING_RUNTIME_MB - (SERVER_RESERVE_MB if beside_server else 0))


def training_job_mb(config: ModelConfig, num_classes: int, batch_size: int) -> int:
    """Peak resident memory of a worker process that trains this model: TensorFlow plus the run."""
    return TRAINING_RUNTIME_MB + estimate_training_memory(config, num_classes, batch_size).total_mb


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


def check_training_fits(
    config: ModelConfig, num_classes: int, batch_size: int, budget_mb: int | None = None
) -> TrainingMemory:
    """Raise MemoryGuardError with a sentence when training would not fit in the memory budget."""
    budget = training_budget_mb() if budget_mb is None else budget_mb
    need = estimate_training_memory(config, num_classes, batch_size)
    if need.total_mb > budget:
        raise MemoryGuardError(
            f"Training this model would need about {need.total_mb:,} MB ({need.parameters:,} parameters "
            f"with Adam plus activations for a batch of {batch_size}), more than the {budget:,} MB allowed; "
            "lower the batch size, sequence length, vocabulary, width or layer count."
        )
    return need


def explorer_model_for_training(
    config: ModelConfig, num_classes: int, batch_size: int
) -> tuple[ModelConfig | None, str]:
    """The explorer's model as the training page would train it (the encoder, its position count
    equal to its sequence length), and either "" or the sentence saying why it is not offered."""
    try:
        candidate = config.with_changes(pos_num=config.seq_len, encoder_only=True)
    except ConfigError:
        return None, ""
    need = estimate_training_memory(candidate, num_classes, batch_size)
    budget = training_budget_mb(beside_server=True)
    if need.total_mb > budget:
        return candidate, (
            f"would need about {need.total_mb:,} MB to train, more than the {budget:,} MB this app allows, "
            "so the page starts from a small model instead."
        )
    bounded = [field for field in MODEL_FIELDS if field.train_bounds]
    in_bounds = all(
        low <= getattr(candidate, field.name) <= high
        for field in bounded
        for low, high in [field.train_bounds]
    )
    if not in_bounds or candidate.heads not in valid_head_counts(
        candidate.embed_dim, MODEL_FIELD["heads"].train_bounds[1]
    ):
        seq, vocab = MODEL_FIELD["seq_len"].train_bounds, MODEL_FIELD["vocab"].train_bounds
        return candidate, (
            f"has settings outside what this page trains (sequence length up to {seq[1]:,}, vocabulary "
            f"from {vocab[0]:,}), so it is not offered."
        )
    return candidate, ""


# --- pretraining (masked words and next sentences) -------------------------------------------------
# The MLM output is a softmax over the whole vocabulary at every position: batch × S × V values,
# however few positions are masked. Training keeps several tensors of that size at once (the scores,
# the softmax, keras-bert's Masked copy, the clipped log-probabilities of the loss and their
# gradients). Measured on 2 cores (peak resident memory of a whole pretraining run, d 128, 2 blocks,
# F 512): batch 32 and S 64 with V 200 / 5,000 / 20,000 / 40,000 took 929 / 1,135 / 1,817 / 2,542 MB,
# about 5 to 5.5 such tensors per step besides the parameters' state; batch 64 or S 128 at V 20,000
# 2,581 and 2,741 MB. Rounded up to 6, the estimate is 0-15 % above those peaks.
MLM_OUTPUT_COPIES = 6


def estimate_pretraining_memory(config: ModelConfig, batch_size: int) -> TrainingMemory:
    """Pretraining memory on top of TensorFlow, by arithmetic, as ``TrainingMemory``.

    ``state_bytes``: 20 bytes per parameter of the pretraining model (MLM and NSP heads included),
    as for training. ``activation_bytes``: the encoder's activations as for training, plus
    ``MLM_OUTPUT_COPIES`` × batch × S × V × 4 bytes for the MLM output over the vocabulary.
    """
    model = config.with_changes(encoder_only=False)
    parameters = total_params(model)
    encoder = costs.memory(config.with_changes(encoder_only=True), batch_size).activation_bytes
    mlm_output = (
        MLM_OUTPUT_COPIES * batch_size * config.seq_len * config.vocab * costs.BYTES_PER_VALUE["fp32"]
    )
    return TrainingMemory(
        parameters=parameters,
        state_bytes=parameters * STATE_BYTES_PER_PARAM,
        activation_bytes=int(encoder * ACTIVATION_FACTOR) + mlm_output,
    )


def pretraining_job_mb(config: ModelConfig, batch_size: int) -> int:
    """Peak resident memory of a worker process that pretrains this model: TensorFlow plus the run."""
    return TRAINING_RUNTIME_MB + estimate_pretraining_memory(config, batch_size).total_mb


def check_pretraining_fits(
    config: ModelConfig, batch_size: int, budget_mb: int | None = None
) -> TrainingMemory:
    """Raise MemoryGuardError with a sentence when pretraining would not fit in the memory budget."""
    budget = training_budget_mb() if budget_mb is None else budget_mb
    need = estimate_pretraining_memory(config, batch_size)
    if need.total_mb > budget:
        raise MemoryGuardError(
            f"Pretraining this model would need about {need.total_mb:,} MB ({need.parameters:,} parameters "
            f"with Adam, activations and the masked-word output over {config.vocab:,} words for a batch of "
            f"{batch_size}), more than the {budget:,} MB allowed; lower the batch size, sequence length, "
            "vocabulary, width or layer count."
        )
    return need
