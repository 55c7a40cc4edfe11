"""The model configuration: one frozen, validated object, to and from query parameters and JSON.

Field names follow keras-bert's ``get_model`` keywords where a user sees them in code
(``token_num`` is called ``vocab`` here because that is what people call it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bertviz_core.errors import ConfigError
from bertviz_core.fields import MODEL_FIELD, MODEL_FIELDS, QUERY_KEYS

# keras-bert's get_model defaults, with BERT's own uncased vocabulary size.
DEFAULT_VOCAB = MODEL_FIELD["vocab"].default
# get_model's keywords in its own signature's order, so the Python snippet reads like its documentation.
_GET_MODEL_ORDER = (
    "token_num",
    "pos_num",
    "seq_len",
    "embed_dim",
    "transformer_num",
    "head_num",
    "feed_forward_dim",
)


def valid_head_counts(embed_dim: int, max_heads: int = MODEL_FIELD["heads"].limits[1]) -> list[int]:
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

    vocab: int = MODEL_FIELD["vocab"].default
    seq_len: int = MODEL_FIELD["seq_len"].default
    pos_num: int = MODEL_FIELD["pos_num"].default
    embed_dim: int = MODEL_FIELD["embed_dim"].default
    heads: int = MODEL_FIELD["heads"].default
    layers: int = MODEL_FIELD["layers"].default
    ff_dim: int = MODEL_FIELD["ff_dim"].default
    encoder_only: bool = False

    def __post_init__(self) -> None:
        for field in MODEL_FIELDS:
            _check_in_range(field.name, getattr(self, field.name))
        if not isinstance(self.encoder_only, bool):
            raise ConfigError("encoder_only must be true or false.")
        if self.embed_dim % self.heads != 0:
            choices = _format_choices(valid_head_counts(self.embed_dim))
            raise ConfigError(
                f"{self.heads} heads cannot split an embedding dimension of {self.embed_dim:,} "
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
        by_keras_name = {field.keras_name: getattr(self, field.name) for field in MODEL_FIELDS}
        kwargs: dict[str, Any] = {name: by_keras_name[name] for name in _GET_MODEL_ORDER}
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
            + 'print(f"{model.count_params():,} parameters")\n'
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
            changes[key] = parse_field(key, raw)
        return replace(base, **changes)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            values = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ConfigError(
                f"The configuration is not valid JSON ({error}); export it again from the explorer."
            ) from None
        if not isinstance(values, dict):
            raise ConfigError('The configuration must be a JSON object such as {"vocab": 1000}.')
        return cls.from_mapping(values)

    def with_changes(self, **changes: Any) -> ModelConfig:
        return replace(self, **changes)


def parse_field(name: str, raw: Any) -> int | bool:
    """One field's value from JSON or a query string, checked on its own (type and range)."""
    if isinstance(raw, (list, tuple)):  # a repeated query parameter: the last one wins
        raw = raw[-1] if raw else ""
    if name == "encoder_only":
        return _parse_flag(raw)
    return _check_in_range(name, _parse_int(name, raw))


def _check_in_range(name: str, value: Any) -> int:
    field = MODEL_FIELD[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"The {field.label} must be a whole number, not {value!r}.")
    low, high = field.limits
    if not low <= value <= high:
        raise ConfigError(
            f"The {field.label} must be between {low:,} and {high:,}; {value:,} is out of range."
        )
    return value


def training_default_config() -> ModelConfig:
    """The small model the training page and ``train`` start from (Google's BERT-Tiny shape with a
    short sequence): it trains in a minute or two on a laptop. The position count equals seq_len."""
    values = {field.name: field.train_default for field in MODEL_FIELDS if field.train_default is not None}
    return ModelConfig(**values, pos_num=values["seq_len"], encoder_only=True)


def _parse_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"The {MODEL_FIELD[key].label} must be a whole number, not {raw!r}.")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip().replace(",", "").replace("_", "")
    if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())) and len(text) <= 12:
        return int(text)
    shown = str(raw)[:40]
    raise ConfigError(f"The {MODEL_FIELD[key].label} must be a whole number, not {shown!r}.")


def _parse_flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"encoder_only must be 1 or 0, not {str(raw)[:40]!r}.")
