"""How to train: one frozen, validated object, checked against ``fields.TRAINING_FIELDS``."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, fields
from typing import Any

from bertviz_core.errors import TrainingError
from bertviz_core.fields import FINE_TUNE, FROZEN, TRAINING_FIELD, TRAINING_FIELDS

__all__ = ["FINE_TUNE", "FROZEN", "TrainSettings", "suggested_settings"]

# The learning rate (and, for the head only, the epochs and patience) each way of training starts
# with. Fine-tuning a BERT pretrained elsewhere: 3e-5, BERT's own recipe. The head only: measured on
# all-MiniLM-L6-v2 and five topics of Debian's fortunes (docs/transfer.md), 1e-2 for up to 60 epochs
# with patience 5 (about 0.1 s an epoch once the encoder has read the texts).
NEW_MODEL_RATE = TRAINING_FIELD["learning_rate"].default
FINE_TUNING_RATE = 3e-5
FROZEN_RATE, FROZEN_EPOCHS, FROZEN_PATIENCE = 1e-2, 60, 5
SCRATCH = "scratch"  # a new model, every layer trained: with FINE_TUNE and FROZEN, the ways a run trains


@dataclass(frozen=True)
class TrainSettings:
    """How to train. The defaults learn the sample data sets in a minute or two on 2 CPU cores.

    ``patience``: epochs without a better validation accuracy (or the same with a lower loss) before
    stopping early. ``encoder``: ``FINE_TUNE`` trains every layer; ``FROZEN`` trains only the head on a
    pretrained encoder kept as it is.
    """

    epochs: int = TRAINING_FIELD["epochs"].default
    batch_size: int = TRAINING_FIELD["batch_size"].default
    learning_rate: float = TRAINING_FIELD["learning_rate"].default
    val_share: float = TRAINING_FIELD["val_share"].default
    seed: int = TRAINING_FIELD["seed"].default
    patience: int = TRAINING_FIELD["patience"].default
    encoder: str = TRAINING_FIELD["encoder"].default

    def __post_init__(self) -> None:
        for field in TRAINING_FIELDS:
            value = getattr(self, field.name)
            if field.choices:
                if value not in field.choices:
                    raise TrainingError(
                        f"The {field.label} must be {' or '.join(repr(choice) for choice in field.choices)}, "
                        f"not {str(value)[:40]!r}."
                    )
                continue
            low, high = field.limits
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if field.name == "learning_rate":
                if not (is_number and low < value <= high):
                    raise TrainingError(
                        f"The learning rate must be a number above 0 and at most 1 (try 0.001), not {value!r}."
                    )
            elif not field.whole:
                if not (is_number and low <= value <= high):
                    raise TrainingError(
                        f"The {field.label} must be a fraction between {low} and {high}, not {value!r}."
                    )
            elif not (is_number and isinstance(value, int) and low <= value <= high):
                raise TrainingError(
                    f"The {field.label} must be a whole number from {int(low):,} to {int(high):,}, not {value!r}."
                )

    @property
    def trains_encoder(self) -> bool:
        return self.encoder == FINE_TUNE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrainSettings:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def suggested_settings(settings: TrainSettings, way: str, visitors_way: str) -> TrainSettings:
    """``settings`` for a run that trains ``way`` (``SCRATCH``, ``FINE_TUNE`` a checkpoint, or its head
    only, ``FROZEN``): as they are when the visitor chose them for that way (``visitors_way``),
    otherwise with that way's suggested learning rate (and, head only, epochs and patience)."""
    encoder = FROZEN if way == FROZEN else FINE_TUNE
    if way == visitors_way:
        return dataclasses.replace(settings, encoder=encoder)
    if way == FROZEN:
        return dataclasses.replace(settings, encoder=encoder, learning_rate=FROZEN_RATE, epochs=FROZEN_EPOCHS,
                                   patience=FROZEN_PATIENCE)  # fmt: skip
    rate = NEW_MODEL_RATE if way == SCRATCH else FINE_TUNING_RATE
    return dataclasses.replace(settings, encoder=encoder, learning_rate=rate)
