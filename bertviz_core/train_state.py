"""The training page's settings, in one object: read once per run, validated, then handed down.

Like the explorer's ``ExplorerState``: the page reads every box's value once, at its top, into a
``TrainState``, and every section takes what it needs from it. Nothing below reads a box of its
own, so a value cannot flow up the page (a seed read by the data section before the seed box is
drawn) and two sections never disagree about a setting. The state decides what the boxes may
hold: a head count that no longer divides the embedding becomes the nearest one that does, and a
new model fine-tunes every layer whatever the encoder box says (only a checkpoint's can be frozen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from bertviz_core.arithmetic.config import ModelConfig, training_default_config, valid_head_counts
from bertviz_core.errors import ConfigError, TrainingError
from bertviz_core.fields import FINE_TUNE, MODEL_FIELD, TRAINING_FIELD, TRAINING_FIELDS
from bertviz_core.settings import TrainSettings

# The model boxes: the position count follows the sequence length.
MODEL_BOXES = ("vocab", "seq_len", "embed_dim", "heads", "layers", "ff_dim")
SCRATCH, CHECKPOINT = "scratch", "checkpoint"
# The learning rates the page offers (and the default, wherever it falls among them).
LEARNING_RATES = tuple(sorted({1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2,
                               TRAINING_FIELD["learning_rate"].default}))  # fmt: skip


def heads_offered(embed_dim: int) -> list[int]:
    """The head counts the page offers for an embedding: those that divide it, up to its bound."""
    return valid_head_counts(embed_dim, max_heads=MODEL_FIELD["heads"].train_bounds[1])


def nearest_heads(embed_dim: int, wanted: int) -> int:
    """The offered head count nearest to ``wanted`` (the smaller on a tie)."""
    return min(heads_offered(embed_dim), key=lambda count: (abs(count - wanted), count))


@dataclass(frozen=True)
class TrainState:
    """What the training page's boxes hold: the new model's fields, where training starts, and the
    training settings. ``config`` and ``settings`` are None when the boxes do not make a valid one,
    and ``model_problem`` / ``settings_problem`` then say why in one sentence."""

    model: Mapping[str, int]
    values: Mapping[str, Any]  # the training settings' boxes, by TRAINING_FIELD name
    start: str = SCRATCH

    @classmethod
    def read(
        cls, model_box: Callable[[str], Any], setting_box: Callable[[str], Any], start: str
    ) -> TrainState:
        """From the boxes' current values (None where a box has none yet: its default then)."""
        defaults = training_default_config()
        model = {name: _whole(model_box(name), getattr(defaults, name)) for name in MODEL_BOXES}
        model["heads"] = nearest_heads(model["embed_dim"], model["heads"]) if model["embed_dim"] > 0 else 1
        values = {}
        for field in TRAINING_FIELDS:
            raw = setting_box(field.name)
            values[field.name] = field.default if raw is None else raw
        if start != CHECKPOINT:  # a new model's encoder has learnt nothing to keep: it always trains
            values["encoder"] = FINE_TUNE
        return cls(
            MappingProxyType(model), MappingProxyType(values), CHECKPOINT if start == CHECKPOINT else SCRATCH
        )

    @classmethod
    def default(cls) -> TrainState:
        return cls.read(lambda name: None, lambda name: None, SCRATCH)

    @property
    def seed(self) -> int:
        return int(self.values["seed"])

    @property
    def val_share(self) -> float:
        return float(self.values["val_share"])

    @property
    def batch_size(self) -> int:
        return int(self.values["batch_size"])

    @property
    def encoder(self) -> str:
        """``FINE_TUNE`` or ``FROZEN`` (a checkpoint's only): what training changes."""
        return str(self.values["encoder"])

    @cached_property
    def _model(self) -> tuple[ModelConfig | None, str | None]:
        for name in MODEL_BOXES:  # the page's own bounds first: a box takes any whole number
            low, high = MODEL_FIELD[name].train_bounds
            if not low <= self.model[name] <= high:
                field = MODEL_FIELD[name]
                return None, (
                    f"The {field.label} must be from {low:,} to {high:,} on this page, not {self.model[name]:,}; "
                    f"the explorer shows what larger ones cost."
                )
        try:
            return ModelConfig(**self.model, pos_num=self.model["seq_len"], encoder_only=True), None
        except ConfigError as error:
            return None, str(error)

    @property
    def config(self) -> ModelConfig | None:
        """The new model the boxes describe (its position count is its sequence length)."""
        return self._model[0]

    @property
    def model_problem(self) -> str | None:
        return self._model[1]

    @cached_property
    def _settings(self) -> tuple[TrainSettings | None, str | None]:
        values = dict(self.values)
        values["learning_rate"] = float(values["learning_rate"])
        values["val_share"] = round(float(values["val_share"]), 4)
        try:
            return TrainSettings.from_mapping(values), None
        except TrainingError as error:
            return None, str(error)

    @property
    def settings(self) -> TrainSettings | None:
        return self._settings[0]

    @property
    def settings_problem(self) -> str | None:
        return self._settings[1]


def _whole(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
