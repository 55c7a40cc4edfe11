"""The notebook's story as a walk of five steps: what the notebook saw, what the explorer shows.

Each step stands on one of the notebook presets (``presets.NOTEBOOK``) and goes through
``ExplorerState.with_preset``, so the walk shows exactly what the preset pills show, notes included,
and its link is the one the address bar will hold. Every figure in a sentence is worked out here
from the arithmetic, never typed in, so the sentences cannot drift from the headline figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

from bertviz_core.arithmetic import explain, presets
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.arithmetic.params import layer_rows, total_params
from bertviz_core.text import format_short_count


def _layer_params(config: ModelConfig, name: str) -> int:
    return next(row.params for row in layer_rows(config) if row.name == name)


def _config(key: str) -> ModelConfig:
    return ExplorerState().with_preset(key).config


# --- the sentences, one pair per step, each worked out from its step's configuration -------------


def _vocabulary_1000(config: ModelConfig) -> tuple[str, str]:
    saw = (
        f"An untrained get_model(token_num={config.vocab}) reported {total_params(config):,} trainable "
        f"parameters, a surprise for {config.vocab:,} words."
    )
    shows = (
        f"Everything else is keras-bert's default ({config.layers} layers of width {config.embed_dim:,}, "
        f"feed-forward {config.ff_dim:,}); the {config.vocab:,}-row token embedding holds only "
        f"{_layer_params(config, 'Embedding-Token'):,} of them."
    )
    return saw, shows


def _vocabulary_20000(config: ModelConfig) -> tuple[str, str]:
    before = _config("notebook-1")
    added = total_params(config) - total_params(before)
    saw = (
        f"With {config.vocab:,} words, a vocabulary closer to everyday English, the summary grew to "
        f"{total_params(config):,} parameters."
    )
    shows = (
        f"The {config.vocab - before.vocab:,} extra words add {added:,} parameters: each one is a "
        f"{config.embed_dim:,}-wide row of the token embedding plus one output bias of the MLM head."
    )
    return saw, shows


def _sequence_36(config: ModelConfig) -> tuple[str, str]:
    saw = (
        f"Cutting seq_len from {ModelConfig().seq_len:,} to {config.seq_len:,} shrank every output shape "
        f"but left the total at {total_params(config):,}."
    )
    shows = (
        "No weight has the sequence length in its shape: the position table keeps pos_num = "
        f"{config.pos_num} rows ({_layer_params(config, 'Embedding-Position'):,} parameters), so only "
        "the activations and the attention work get smaller."
    )
    return saw, shows


def _embedding_6(config: ModelConfig) -> tuple[str, str]:
    wanted = presets.BY_KEY["notebook-4"].settings.get("heads", ModelConfig().heads)
    root = explain.fourth_root(config.vocab)
    saw = (
        f"An embedding of {config.embed_dim} (the fourth root of {config.vocab:,}, {root:.2f}, rounded "
        f"up to {math.ceil(root)}) with the default {wanted} heads made keras-bert refuse to build: "
        f"Invalid head number {wanted} with the given input dim {config.embed_dim}."
    )
    shows = (
        f"{wanted} heads cannot share {config.embed_dim} values equally, so the explorer takes the "
        f"nearest count that can, {config.heads}, and counts {total_params(config):,} parameters."
    )
    return saw, shows


def _one_head(config: ModelConfig) -> tuple[str, str]:
    feed_forward = explain.feed_forward_params(config)
    saw = (
        f"With head_num={config.heads} the model built with {total_params(config):,} parameters, but "
        "a Dense classifier on model.output failed, because that output is a list of two tensors "
        "(MLM and NSP)."
    )
    shows = (
        f"The head count leaves the total unchanged; {feed_forward:,} of the parameters "
        f"({feed_forward / total_params(config):.1%}) sit in the {config.layers} feed-forward blocks, "
        f"whose width stayed {config.ff_dim:,}."
    )
    return saw, shows


@dataclass(frozen=True)
class TourStep:
    """One step of the walk: a notebook preset and the two sentences that tell it."""

    number: int  # 1..len(STEPS)
    preset_key: str  # a key of presets.BY_KEY in group NOTEBOOK
    title: str
    _sentences: Callable[[ModelConfig], tuple[str, str]]

    @property
    def preset(self) -> presets.Preset:
        return presets.BY_KEY[self.preset_key]

    @cached_property
    def state(self) -> ExplorerState:
        """What the explorer holds after this step: keras-bert's defaults plus the preset, and its notes."""
        return ExplorerState().with_preset(self.preset_key)

    @property
    def config(self) -> ModelConfig:
        return self.state.config

    @property
    def notebook_saw(self) -> str:
        return self._sentences(self.config)[0]

    @property
    def explorer_shows(self) -> str:
        return self._sentences(self.config)[1]

    @property
    def link_params(self) -> dict[str, str]:
        """The step's link's query parameters, exactly as the explorer writes them to the address bar
        while the walk is on this step: its configuration, and the step itself (``STEP_KEY``), so the
        link reopens the walk there."""
        return {**self.state.share_params(), STEP_KEY: str(self.number)}

    @property
    def link(self) -> str:
        """The step's link relative to the explorer: '/?vocab=1000&seq_len=36'."""
        return "/?" + urlencode(self.link_params) if self.link_params else "/"


STEPS: tuple[TourStep, ...] = (
    TourStep(1, "notebook-1", "Vocabulary 1,000", _vocabulary_1000),
    TourStep(2, "notebook-2", "Vocabulary 20,000", _vocabulary_20000),
    TourStep(3, "notebook-3", "Sequence length 36", _sequence_36),
    TourStep(4, "notebook-4", "Embedding 6 with 12 heads", _embedding_6),
    TourStep(5, "notebook-5", "One head", _one_head),
)


# The query key that opens the walk at a step; the explorer's state ignores it (``ExplorerState.from_link``).
STEP_KEY = "step"


def step_in_link(raw: object) -> int | None:
    """The step a link asks for (``?step=4``), or None when it names none of the walk's steps."""
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= len(STEPS):
        return None
    return int(text)


def step(number: int) -> TourStep:
    """Step ``number`` (1-based), clamped to the walk, so a stale number still lands on a step."""
    return STEPS[min(max(number, 1), len(STEPS)) - 1]


def summary() -> str:
    """The walk in a sentence, for its Start button."""
    first, last = total_params(STEPS[0].config), total_params(STEPS[-1].config)
    return (
        f"{len(STEPS)} steps with Back and Next, from {format_short_count(first)} parameters to a model "
        f"of {format_short_count(last)} that builds."
    )
