"""The model configuration: one frozen, validated object, to and from query parameters and JSON.

Field names follow keras-bert's ``get_model`` keywords where a user sees them in code
(``token_num`` is called ``vocab`` here because that is what people call it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bertviz_core.errors import UserError

# keras-bert's get_model defaults, with BERT's own uncased vocabulary size.
DEFAULT_VOCAB = 30522

# Inclusive bounds. They are wide on purpose: counting is arithmetic, so the explorer may show
# models far larger than any machine could build. The real build has its own memory guard.
LIMITS: dict[str, tuple[int, int]] = {
    "vocab": (2, 1_000_000),
    "seq_len": (1, 8192),
    "pos_num": (1, 8192),
    "embed_dim": (1, 8192),
    "heads": (1, 128),
    "layers": (1, 96),
    "ff_dim": (1, 65536),
}

LABELS: dict[str, str] = {
    "vocab": "vocabulary size",
    "seq_len": "sequence length",
    "pos_num": "position count",
    "embed_dim": "embedding dimension",
    "heads": "head count",
    "layers": "layer count",
    "ff_dim": "feed-forward width",
}

# Query parameter / JSON key -> value type. ``encoder_only`` is the one flag.
QUERY_KEYS = ("vocab", "seq_len", "pos_num", "embed_dim", "heads", "layers", "ff_dim", "encoder_only")


class ConfigError(UserError):
    """An invalid configuration. ``str(error)`` is one sentence for the user."""


def valid_head_counts(embed_dim: int, max_heads: int = LIMITS["heads"][1]) -> list[int]:
    """Head counts that divide ``embed_dim`` (keras-multi-head's requirement)."""
    return [h for h in range(1, min(embed_dim, max_heads) + 1) if embed_dim % h == 0]


def _format_choices(values: list[int]) -> str:
    if len(values) > 12:
        values_text = ", ".join(str(v) for v in values[:12]) + ", ..."
    else:
        values_text = ", ".join(str(v) for v in values)
    return values_text


@dataclass(frozen=True)
class ModelConfig:
    """A keras-bert model configuration; construction validates it.

    ``encoder_only`` False counts the pretraining model (``training=True``: MLM and NSP heads,
    the notebook's model); True counts the bare encoder (``training=False, trainable=True``).
    """

    vocab: int = DEFAULT_VOCAB
    seq_len: int = 512
    pos_num: int = 512
    embed_dim: int = 768
    heads: int = 12
    layers: int = 12
    ff_dim: int = 3072
    encoder_only: bool = False

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"The {LABELS[name]} must be a whole number, not {value!r}.")
            if not low <= value <= high:
                raise ConfigError(
                    f"The {LABELS[name]} must be between {low:,} and {high:,}; {value:,} is out of range."
                )
        if not isinstance(self.encoder_only, bool):
            raise ConfigError("encoder_only must be true or false.")
        if self.embed_dim % self.heads != 0:
            choices = _format_choices(valid_head_counts(self.embed_dim))
            raise ConfigError(
                f"{self.heads} heads cannot split an embedding dimension of {self.embed_dim} "
                f"(keras-bert says 'Invalid head number {self.heads} with the given input dim "
                f"{self.embed_dim}'): choose a head count that divides it ({choices})."
            )
        if self.seq_len > self.pos_num:
            raise ConfigError(
                f"The sequence length {self.seq_len:,} is longer than the position count "
                f"{self.pos_num:,}: raise the position count to at least {self.seq_len:,} "
                "or shorten the sequences."
            )

    # --- keras-bert --------------------------------------------------------------------------
    def get_model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``keras_bert.get_model`` that build exactly this model."""
        kwargs: dict[str, Any] = {
            "token_num": self.vocab,
            "pos_num": self.pos_num,
            "seq_len": self.seq_len,
            "embed_dim": self.embed_dim,
            "transformer_num": self.layers,
            "head_num": self.heads,
            "feed_forward_dim": self.ff_dim,
        }
        if self.encoder_only:
            kwargs.update(training=False, trainable=True)
        return kwargs

    def python_snippet(self) -> str:
        """A short script that builds the same model with keras-bert."""
        args = ",\n".join(f"    {key}={value!r}" for key, value in self.get_model_kwargs().items())
        build = (
            "inputs, outputs = get_model(\n" + args + ",\n)\n"
            "model = tf.keras.Model(inputs=inputs, outputs=outputs)\n"
            if self.encoder_only
            else "model = get_model(\n" + args + ",\n)\n"
        )
        return (
            "import os\n\n"
            'os.environ["TF_USE_LEGACY_KERAS"] = "1"  # keras-bert needs Keras 2 (pip install tf-keras)\n\n'
            "import tensorflow as tf\n"
            "from keras_bert import get_model\n\n"
            + build
            + "model.summary()\n"
            + "print(f\"{model.count_params():,} parameters\")\n"
        )

    # --- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_query_params(self) -> dict[str, str]:
        """Only the fields that differ from the defaults, so shared links stay short."""
        default = ModelConfig()
        params = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value != getattr(default, field.name):
                params[field.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return params

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: ModelConfig | None = None) -> ModelConfig:
        """Build from JSON or query parameters (strings allowed); unknown keys are refused."""
        base = base or cls()
        unknown = sorted(str(key) for key in set(values) - set(QUERY_KEYS))
        if unknown:
            raise ConfigError(f"Unknown setting {unknown[0][:40]!r}: use only {', '.join(QUERY_KEYS)}.")
        changes: dict[str, Any] = {}
        for key, raw in values.items():
            if isinstance(raw, (list, tuple)):  # repeated query parameter: the last one wins
                raw = raw[-1] if raw else ""
            if key == "encoder_only":
                changes[key] = _parse_flag(raw)
            else:
                changes[key] = _parse_int(key, raw)
        return replace(base, **changes)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            values = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ConfigError(f"The configuration is not valid JSON ({error}); export it again from the explorer.") from None
        if not isinstance(values, dict):
            raise ConfigError("The configuration must be a JSON object such as {\"vocab\": 1000}.")
        return cls.from_mapping(values)

    def with_changes(self, **changes: Any) -> ModelConfig:
        return replace(self, **changes)


def _parse_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"The {LABELS[key]} must be a whole number, not {raw!r}.")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip().replace(",", "").replace("_", "")
    if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())) and len(text) <= 12:
        return int(text)
    shown = str(raw)[:40]
    raise ConfigError(f"The {LABELS[key]} must be a whole number, not {shown!r}.")


def _parse_flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"encoder_only must be 1 or 0, not {str(raw)[:40]!r}.")
