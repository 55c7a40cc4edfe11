"""The real keras-bert model: built only on request, behind a memory guard.

Counting never needs a build (see ``params``); the build is the proof that the arithmetic is
right. The explorer asks for it through a child process (``python -m bertviz_core size --verify
--json``), so that TensorFlow's 600 MB and the model's weights are returned to the system as soon
as the table is read, and a refused or failed build cannot take the app's process down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import psutil

from bertviz_core import tf_runtime
from bertviz_core.config import ModelConfig
from bertviz_core.errors import UserError
from bertviz_core.params import layer_rows, shape_text, total_params

# Measured with `size --verify` on a 2-core machine (peak resident memory of the whole process):
# a tiny model 668 MiB, BERT-base 1,147 MiB, BERT-large 2,098 MiB, so TensorFlow and keras-bert
# hold about 670 MiB and the build about 4.5 bytes per parameter (the fp32 weights plus the
# initialisers' temporaries). The guard rounds both up.
TF_BASELINE_MB = 700
BUILD_BYTES_PER_PARAM = 5.0
DEFAULT_BUDGET_MB = 2000


class MemoryGuardError(UserError):
    """A build or a training run that would not fit in the memory budget."""


def memory_budget_mb() -> int:
    """The most memory one real build or training run may take, in MB.

    ``BERTVIZ_MEMORY_BUDGET_MB`` sets it (Community Cloud apps get 690 MB to 2.7 GB); it is
    never more than what the machine has available right now.
    """
    raw = os.environ.get("BERTVIZ_MEMORY_BUDGET_MB", "")
    budget = int(raw) if raw.strip().isascii() and raw.strip().isdigit() else DEFAULT_BUDGET_MB
    available = psutil.virtual_memory().available // (1024 * 1024)
    return int(min(budget, available * 0.8, _container_limit_mb() or budget))


def _container_limit_mb() -> int | None:
    """The cgroup v2 memory limit (Docker, Community Cloud), which psutil does not see."""
    try:
        with open("/sys/fs/cgroup/memory.max") as limit_file:
            text = limit_file.read().strip()
    except OSError:
        return None
    return int(text) // (1024 * 1024) if text.isdigit() else None


def estimated_build_mb(config: ModelConfig) -> int:
    """Peak resident memory of a fresh process that builds this model."""
    return int(TF_BASELINE_MB + total_params(config) * BUILD_BYTES_PER_PARAM / (1024 * 1024))


def check_build_fits(config: ModelConfig, budget_mb: int | None = None) -> None:
    """Raise MemoryGuardError with a sentence when the real build would not fit."""
    budget = memory_budget_mb() if budget_mb is None else budget_mb
    need = estimated_build_mb(config)
    if need > budget:
        raise MemoryGuardError(
            f"Building this model for real would take about {need:,} MB, more than the {budget:,} MB "
            "this app allows, so only the arithmetic is shown (it is exact); shrink the model to see "
            "keras-bert's own table."
        )


@dataclass(frozen=True)
class RealLayer:
    name: str
    type: str
    params: int
    output_shape: str
    connected_to: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "params": self.params,
            "output_shape": self.output_shape,
            "connected_to": list(self.connected_to),
        }


def build(config: ModelConfig):
    """Build the real keras-bert model (a ``tf.keras.Model``) in this process."""
    tf = tf_runtime.tensorflow()
    keras_bert = tf_runtime.keras_bert()
    built = keras_bert.get_model(**config.get_model_kwargs())
    if isinstance(built, tuple):  # training=False returns (inputs, output), not a Model
        inputs, output = built
        built = tf.keras.Model(inputs=inputs, outputs=output)
    return built


def describe(model) -> list[RealLayer]:
    """``model.summary()``'s columns, read from a built model."""
    layers = []
    for layer in model.layers:
        inbound: list[str] = []
        for node in layer._inbound_nodes:  # noqa: SLF001 - Keras has no public API for "Connected to"
            sources = node.inbound_layers
            sources = sources if isinstance(sources, list) else [sources]
            inbound.extend(source.name for source in sources)
        layers.append(
            RealLayer(
                name=layer.name,
                type=type(layer).__name__,
                params=int(layer.count_params()),
                output_shape=shape_text(layer.output_shape),
                connected_to=tuple(inbound),
            )
        )
    return layers


def differences(config: ModelConfig, real: list[RealLayer]) -> list[str]:
    """Where the arithmetic and the real model disagree (empty when they match exactly)."""
    problems = []
    expected = layer_rows(config)
    if [row.name for row in expected] != [layer.name for layer in real]:
        problems.append(
            "layer names or order differ: expected "
            f"{[row.name for row in expected]}, real {[layer.name for layer in real]}"
        )
    for row, layer in zip(expected, real, strict=False):
        computed = row.as_dict()
        for key in ("type", "params", "output_shape"):
            if computed[key] != layer.as_dict()[key]:
                problems.append(f"{row.name}: {key} is {computed[key]!r} by arithmetic, {layer.as_dict()[key]!r} built")
        if list(row.inbound) != list(layer.connected_to):
            problems.append(f"{row.name}: inputs {list(row.inbound)} by arithmetic, {list(layer.connected_to)} built")
    return problems


def cli_arguments(config: ModelConfig) -> list[str]:
    """The ``size`` command's arguments for this configuration."""
    args = [
        "--vocab", str(config.vocab), "--seq-len", str(config.seq_len), "--pos-num", str(config.pos_num),
        "--embed-dim", str(config.embed_dim), "--heads", str(config.heads), "--layers", str(config.layers),
        "--ff-dim", str(config.ff_dim),
    ]  # fmt: skip
    return args + (["--encoder-only"] if config.encoder_only else [])


def describe_in_child_process(config: ModelConfig, timeout_seconds: float = 180) -> dict:
    """Build in a fresh Python and return the ``size --verify --json`` report.

    The guard runs first, here, so a refused configuration never starts a process.
    """
    check_build_fits(config)
    command = [sys.executable, "-m", "bertviz_core", "size", *cli_arguments(config), "--verify", "--json"]
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_seconds, check=False,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise MemoryGuardError(
            f"Building the real model took longer than {timeout_seconds:.0f} s and was stopped; "
            "the arithmetic above is exact."
        ) from None
    try:
        report = json.loads(finished.stdout)
    except ValueError:
        last_line = (finished.stderr.strip().splitlines() or ["no output"])[-1]
        raise MemoryGuardError(f"Building the real model failed ({last_line[:200]}); the arithmetic above is exact.") from None
    return report
