"""The explorer's state, in one object: what the controls ask for, and what is shown because of it.

Like TensorFlow Playground's ``state.ts``: a shared link, a preset, a checkpoint's
``bert_config.json`` or a moved control goes in, a new state comes out; the state gives the valid
``ModelConfig`` to show, the notes that explain any change made to what was asked, and the shared
link back. Every way in resolves a clash the same way, keeping every value it can and changing
the fewest: a head count that does not divide the embedding becomes the nearest one that does
(with a note); a sequence longer than the position table is shown at the table's length until the
user raises it (``sequence_problem``).

A configuration may be pinned as A, to compare with what the controls show (B). It is always a
valid ``ModelConfig``; every way in keeps it, and the link carries it under ``a_``-prefixed keys
(``a_vocab``, ``a_heads``, ...) read with the same leniency as the main keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bertviz_core.arithmetic import explain, presets
from bertviz_core.arithmetic.bert_config import (
    checkpoint_size_note,
    config_mapping,
    huggingface_size_note,
    is_huggingface_config,
    parse_bert_config,
    parse_huggingface_config,
)
from bertviz_core.arithmetic.config import ModelConfig, parse_field
from bertviz_core.errors import ConfigError
from bertviz_core.fields import QUERY_KEYS
from bertviz_core.text import escape_markdown, lower_first, short

PINNED_PREFIX = "a_"
# A's query keys, in the order of the main ones: a_vocab, a_seq_len, ..., a_encoder_only.
PINNED_KEYS: tuple[str, ...] = tuple(PINNED_PREFIX + key for key in QUERY_KEYS)


@dataclass(frozen=True)
class Note:
    """A sentence to show above the figures until the next change. ``kind``: info, warning or error.

    ``text`` is Markdown whose user-given parts (a link's values) are already escaped.
    """

    kind: str
    text: str


@dataclass(frozen=True)
class ExplorerState:
    """The values the controls hold (every ``QUERY_KEYS`` key), and the notes about the last change.

    The values always pass ``ModelConfig``'s checks one by one and the head count always divides
    the embedding; only the sequence length may exceed the position count, as a control can ask.
    ``pinned`` is configuration A when one is pinned for comparison, else None.
    """

    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType(ModelConfig().to_dict()))
    notes: tuple[Note, ...] = ()
    pinned: ModelConfig | None = None

    # --- ways in ----------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: ModelConfig) -> ExplorerState:
        return cls(MappingProxyType(config.to_dict()))

    @classmethod
    def from_link(cls, params: Mapping[str, Any]) -> ExplorerState:
        """What a shared link asks for. A key the explorer does not know, or a value that is bad on its
        own (not a number, out of range), is left out with a note; the rest of the link applies.
        Any ``a_`` key pins A: its values over keras-bert's defaults, settled as the main ones are."""
        notes: list[Note] = []
        values = ModelConfig().to_dict()
        pinned_values: dict[str, Any] | None = None
        for key, raw in params.items():
            if key in PINNED_KEYS:
                pinned_values = ModelConfig().to_dict() if pinned_values is None else pinned_values
                name = key.removeprefix(PINNED_PREFIX)
                try:
                    pinned_values[name] = parse_field(name, raw)
                except ConfigError as error:
                    notes.append(
                        _warning(
                            f"The link's {_shown(key, raw)} was ignored because {lower_first(str(error))}"
                        )
                    )
                continue
            if key not in QUERY_KEYS:
                if str(key).startswith(PINNED_PREFIX):
                    notes.append(
                        _warning(
                            f"The link's setting '{str(key)[:40]}' is not one the explorer knows, so it was "
                            f"ignored (A's settings are {', '.join(PINNED_KEYS)})."
                        )
                    )
                    continue
                notes.append(
                    _warning(
                        f"The link's setting '{str(key)[:40]}' is not one the explorer knows, so it was "
                        f"ignored (the settings are {', '.join(QUERY_KEYS)})."
                    )
                )
                continue
            try:
                values[key] = parse_field(key, raw)
            except ConfigError as error:
                notes.append(
                    _warning(f"The link's {_shown(key, raw)} was ignored because {lower_first(str(error))}")
                )
        pinned = None if pinned_values is None else _settled_pin(pinned_values, notes)
        return cls._settled(values, notes, pinned)

    def with_value(self, name: str, value: int | bool) -> ExplorerState:
        """A control moved: the new value, and the notes of this change only."""
        return self._settled({**self.values, name: value}, [], self.pinned)

    def with_pinned(self) -> ExplorerState:
        """What is shown now becomes A; the controls go on as B (the same, until one moves)."""
        return ExplorerState(self.values, (), self.config)

    def without_pinned(self) -> ExplorerState:
        """A is let go; the controls' configuration stays."""
        return ExplorerState(self.values, (), None)

    def with_swapped(self) -> ExplorerState:
        """A and B change places: A goes into the controls, what they showed becomes A. Without A, the
        state is unchanged."""
        if self.pinned is None:
            return self
        return self._settled(self.pinned.to_dict(), [], self.config)

    def with_preset(self, key: str) -> ExplorerState:
        """A named starting point: keras-bert's defaults plus the preset's settings, and why."""
        preset = presets.BY_KEY[key]
        notes = [Note("info", f"**{preset.name}**: {preset.description}")]
        if preset.explanation:
            notes.append(Note("error", preset.explanation))
        return self._settled(ModelConfig().to_dict() | dict(preset.settings), notes, self.pinned)

    def with_bert_config(self, raw: bytes | str, file_name: str) -> ExplorerState:
        """A checkpoint's configuration: Google's ``bert_config.json`` (its model with the pretraining
        heads counted: Google's checkpoints hold them) or Hugging Face's ``config.json`` (the bare
        encoder, as keras-bert loads it for a classifier), the sequence as long as its positions, and
        notes naming the file and what its weights weigh. A file that is not one keeps the values, with
        its sentence as the note."""
        try:
            values = config_mapping(raw, file_name)
            if is_huggingface_config(values):
                config = parse_huggingface_config(values, short(file_name))
                size_note = huggingface_size_note(config)
            else:
                config = parse_bert_config(values, encoder_only=False, file_name=short(file_name))
                size_note = checkpoint_size_note(config)
        except ConfigError as error:
            return ExplorerState(self.values, (Note("error", escape_markdown(str(error))),), self.pinned)
        opened = Note(
            "info",
            f"**{escape_markdown(short(file_name))}**: a checkpoint's configuration, now in the controls: "
            f"vocabulary {config.vocab:,}, {config.pos_num:,} positions (and as long a sequence), width "
            f"{config.embed_dim:,}, {config.heads:,} heads, {config.layers:,} layers, feed-forward "
            f"{config.ff_dim:,}.",
        )
        return self._settled(config.to_dict(), [opened, Note("info", size_note)], self.pinned)

    def with_positions_raised(self) -> ExplorerState:
        """The position table grown to the sequence length the controls ask for."""
        return self._settled({**self.values, "pos_num": self.values["seq_len"]}, [], self.pinned)

    @classmethod
    def _settled(
        cls, values: dict[str, Any], notes: list[Note], pinned: ModelConfig | None = None
    ) -> ExplorerState:
        embed_dim, heads = values["embed_dim"], values["heads"]
        if embed_dim % heads:
            chosen = explain.nearest_head_count(embed_dim, heads)
            notes.append(Note("warning", explain.head_count_note(embed_dim, heads, chosen)))
            values["heads"] = chosen
        return cls(MappingProxyType(values), tuple(notes), pinned)

    # --- what is shown ----------------------------------------------------------------------------
    @property
    def config(self) -> ModelConfig:
        """The configuration every figure describes: the values, with a sequence longer than the
        position table shown at the table's length."""
        values = dict(self.values)
        values["seq_len"] = min(values["seq_len"], values["pos_num"])
        return ModelConfig(**values)

    @property
    def sequence_problem(self) -> str | None:
        """The sentence for a sequence longer than the position table, or None."""
        try:
            ModelConfig(**self.values)
        except ConfigError as error:
            return str(error)
        return None

    def share_params(self) -> dict[str, str]:
        """The shared link's query parameters for what is shown (defaults left out), then A's under
        ``a_`` keys: its settings that differ from the defaults, or ``a_vocab`` alone when none do,
        so that a pinned BERT-base still makes a link that pins it."""
        params = self.config.to_query_params()
        if self.pinned is not None:
            pinned = self.pinned.to_query_params() or {"vocab": str(self.pinned.vocab)}
            params.update({PINNED_PREFIX + key: value for key, value in pinned.items()})
        return params


def _settled_pin(values: dict[str, Any], notes: list[Note]) -> ModelConfig:
    """A from a link's ``a_`` values, settled as the controls' are: a head count that does not divide
    the embedding becomes the nearest that does, and a sequence longer than the position table is
    compared at the table's length (A has no control to raise it), each with one sentence."""
    embed_dim, heads = values["embed_dim"], values["heads"]
    if embed_dim % heads:
        chosen = explain.nearest_head_count(embed_dim, heads)
        notes.append(
            Note(
                "warning",
                "In the pinned A, " + lower_first(explain.head_count_note(embed_dim, heads, chosen)),
            )
        )
        values["heads"] = chosen
    if values["seq_len"] > values["pos_num"]:
        notes.append(
            Note(
                "warning",
                f"The pinned A asks for a sequence length of {values['seq_len']:,} but has only "
                f"{values['pos_num']:,} positions, so A is compared at a sequence length of {values['pos_num']:,}.",
            )
        )
        values["seq_len"] = values["pos_num"]
    return ModelConfig(**values)


def _warning(text: str) -> Note:
    return Note("warning", escape_markdown(text))


def _single(raw: Any) -> str:
    if isinstance(raw, (list, tuple)):  # a repeated query parameter: the last one wins
        raw = raw[-1] if raw else ""
    return str(raw)


def _shown(key: str, raw: Any) -> str:
    value = _single(raw)
    return f"{key}={value[:40]}" + ("..." if len(value) > 40 else "")
