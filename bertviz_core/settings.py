"""How to train: one frozen, validated object, checked against ``fields.TRAINING_FIELDS``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from bertviz_core.errors import TrainingError
from bertviz_core.fields import FINE_TUNE, FROZEN, TRAINING_FIELD, TRAINING_FIELDS

__all__ = ["FINE_TUNE", "FROZEN", "TrainSettings"]


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
