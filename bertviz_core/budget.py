"""The memory budget, and the one guard every real build, training run and job goes through.

The estimates are ``arithmetic.training_memory``'s; here they meet this machine: the budget
(``BERTVIZ_MEMORY_BUDGET_MB``, what is available, a container's limit), and each refusal is one
sentence naming the need and the budget. Counting never needs memory: only real work (TensorFlow)
is guarded.
"""

from __future__ import annotations

import os

import psutil

from bertviz_core.arithmetic.config import ModelConfig, valid_head_counts
from bertviz_core.arithmetic.training_memory import (
    ENCODE_BATCH,
    TrainingMemory,
    as_trained,
    estimate_pretraining_memory,
    estimate_training_memory,
    estimated_build_mb,
)
from bertviz_core.errors import MemoryGuardError
from bertviz_core.fields import FINE_TUNE, FROZEN, MODEL_FIELD, MODEL_FIELDS
from bertviz_core.text import MIB

DEFAULT_BUDGET_MB = 2000

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


def training_budget_mb(beside_server: bool = False) -> int:
    """The peak memory a training (or pretraining) worker process may reach: the app's budget, minus
    the web server's share when it runs beside the app (a worker of the app's job pool).

    ``BERTVIZ_MEMORY_BUDGET_MB`` (default 2000) sets the whole budget, so a training process gets
    2,000 MB on its own (the command line) and 1,700 MB in the app. ``TrainingMemory.total_mb``,
    TensorFlow's runtime included, is compared with it.
    """
    return max(0, memory_budget_mb() - (SERVER_RESERVE_MB if beside_server else 0))


def check_training_fits(
    config: ModelConfig,
    num_classes: int,
    batch_size: int,
    budget_mb: int | None = None,
    encoder: str = FINE_TUNE,
) -> TrainingMemory:
    """Raise MemoryGuardError with a sentence when training would not fit in the memory budget;
    ``encoder`` is the training setting (``FROZEN``: the head only, on a pretrained encoder)."""
    budget = training_budget_mb() if budget_mb is None else budget_mb
    need = estimate_training_memory(config, num_classes, batch_size, encoder)
    if need.total_mb > budget:
        if encoder == FROZEN:
            raise MemoryGuardError(
                f"Training the head on this encoder would need about {need.total_mb:,} MB ({need.parameters:,} "
                f"parameters to hold, one forward pass of {ENCODE_BATCH} texts and TensorFlow's runtime), more "
                f"than the {budget:,} MB allowed; choose a smaller checkpoint or a shorter sequence length."
            )
        raise MemoryGuardError(
            f"Training this model would need about {need.total_mb:,} MB ({need.parameters:,} parameters "
            f"with Adam, activations for a batch of {batch_size} and TensorFlow's runtime), more than the "
            f"{budget:,} MB allowed; "
            "lower the batch size, sequence length, vocabulary, width or layer count."
        )
    return need


def explorer_model_for_training(
    config: ModelConfig, num_classes: int, batch_size: int
) -> tuple[ModelConfig | None, str]:
    """The explorer's model as the training page would train it (the encoder, its position count
    equal to its sequence length), and either "" or the sentence saying why it is not offered."""
    candidate = as_trained(config)
    if candidate is None:
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
