"""The real keras-bert model: built only on request, behind a memory guard.

Counting never needs a build (see ``arithmetic.params``); the build is the proof that the
arithmetic is right. The explorer asks for it as a job (``jobs.tasks.build``) that runs in a worker
process, and the command line as ``size --verify``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import layer_rows, shape_text, total_params
from bertviz_core.model import runtime


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
    tf = runtime.tensorflow()
    keras_bert = runtime.keras_bert()
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


def verify(config: ModelConfig) -> dict:
    """Build ``config`` for real and compare every layer and the total with the arithmetic.

    The ``verify`` part of ``size --verify --json``: whether they match, each difference, the real
    total, the build's seconds (TensorFlow's import excluded) and the real layers.
    """
    runtime.keras_bert()  # the import is not part of the build time
    started = time.perf_counter()
    model = build(config)
    real = describe(model)
    problems = differences(config, real)
    real_total, counted = int(model.count_params()), total_params(config)
    if real_total != counted:
        problems.append(f"count_params() is {real_total:,}, arithmetic {counted:,}")
    return {
        "matches": not problems,
        "differences": problems,
        "real_total_params": real_total,
        "build_seconds": round(time.perf_counter() - started, 3),
        "real_layers": [layer.as_dict() for layer in real],
    }


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
                problems.append(
                    f"{row.name}: {key} is {computed[key]!r} by arithmetic, {layer.as_dict()[key]!r} built"
                )
        if list(row.inbound) != list(layer.connected_to):
            problems.append(
                f"{row.name}: inputs {list(row.inbound)} by arithmetic, {list(layer.connected_to)} built"
            )
    return problems
