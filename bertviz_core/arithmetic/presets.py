"""Named starting points for the explorer: the notebook's steps in order, then Google's BERT sizes.

A preset records the settings it asks for. Most of them make a valid ``ModelConfig``; the
notebook's fourth step does not (12 heads cannot split 6 dimensions), and then the preset carries
the explanation instead, because that error is part of the story the notebook tells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bertviz_core.arithmetic.config import DEFAULT_VOCAB, ModelConfig, valid_head_counts
from bertviz_core.errors import ConfigError

NOTEBOOK = "The notebook, step by step"
GOOGLE = "Google's BERT sizes"


@dataclass(frozen=True)
class Preset:
    key: str  # stable id, safe for widget keys and tests
    name: str  # short label for a button
    group: str  # NOTEBOOK or GOOGLE
    description: str  # what this step shows, in a sentence or two
    settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def config(self) -> ModelConfig | None:
        """The configuration, or None when the settings are invalid (see ``explanation``)."""
        try:
            return ModelConfig(**self.settings)
        except ConfigError:
            return None

    @property
    def explanation(self) -> str | None:
        """Why the settings are invalid and what to do, or None when they are valid."""
        try:
            ModelConfig(**self.settings)
        except ConfigError as error:
            embed_dim = self.settings.get("embed_dim", ModelConfig().embed_dim)
            heads = self.settings.get("heads", ModelConfig().heads)
            if embed_dim % heads:
                valid = ", ".join(str(count) for count in valid_head_counts(embed_dim))
                return (
                    f"The notebook's error `Invalid head number {heads} with the given input dim "
                    f"{embed_dim}` comes from keras-multi-head, which gives each head an equal slice of "
                    f"the embedding (d / A values), so the head count must divide {embed_dim}: valid "
                    f"counts are {valid}, and the notebook's next step picks 1."
                )
            return str(error)
        return None


def _preset(key: str, name: str, group: str, description: str, **settings: Any) -> Preset:
    return Preset(key, name, group, description, MappingProxyType(settings))


def _google(key: str, name: str, layers: int, hidden: int, description: str) -> Preset:
    # Google's compact BERTs: A = H / 64 heads, F = 4H, BERT's uncased vocabulary and 512 positions.
    return _preset(
        key, name, GOOGLE, description,
        vocab=DEFAULT_VOCAB, seq_len=512, pos_num=512, embed_dim=hidden, heads=hidden // 64,
        layers=layers, ff_dim=4 * hidden,
    )  # fmt: skip


PRESETS: tuple[Preset, ...] = (
    _preset(
        "notebook-1", "1 · vocabulary 1,000", NOTEBOOK,
        "The notebook's first call, get_model(token_num=1000): every other setting is keras-bert's "
        "default (12 layers of width 768), so even a 1,000-word vocabulary gives 87 million parameters.",
        vocab=1000,
    ),
    _preset(
        "notebook-2", "2 · vocabulary 20,000", NOTEBOOK,
        "A 20,000-word vocabulary adds 19,000 rows of 768 to the token embedding plus one output bias "
        "per word: about 14.6 million more parameters.",
        vocab=20000,
    ),
    _preset(
        "notebook-3", "3 · sequence 36", NOTEBOOK,
        "Back to 1,000 words with seq_len=36: the count stays exactly the same, because no weight has "
        "the sequence length in its shape; the position table has pos_num rows (still 512).",
        vocab=1000, seq_len=36,
    ),
    _preset(
        "notebook-4", "4 · embedding 6 with 12 heads", NOTEBOOK,
        "The notebook shrinks the embedding to 6 (the fourth root of 1,000, rounded up) but keeps "
        "12 attention heads, and keras-bert refuses to build.",
        vocab=1000, seq_len=36, embed_dim=6,
    ),
    _preset(
        "notebook-5", "5 · one head", NOTEBOOK,
        "With one head the model builds: 491,814 parameters, and almost all of them sit in the "
        "feed-forward layers, whose width stayed 3072.",
        vocab=1000, seq_len=36, embed_dim=6, heads=1,
    ),
    _google("bert-tiny", "BERT-Tiny", 2, 128, "Google's smallest BERT: 2 layers of width 128 with 2 heads."),
    _google("bert-mini", "BERT-Mini", 4, 256, "4 layers of width 256 with 4 heads."),
    _google("bert-small", "BERT-Small", 4, 512, "4 layers of width 512 with 8 heads."),
    _google("bert-medium", "BERT-Medium", 8, 512, "8 layers of width 512 with 8 heads."),
    _google("bert-base", "BERT-Base", 12, 768, "The original BERT-base: 12 layers, width 768, 12 heads."),
    _google(
        "bert-large", "BERT-Large", 24, 1024,
        "The original BERT-large: 24 layers, width 1024, 16 heads, feed-forward 4096 (the paper's 340M).",
    ),
)  # fmt: skip

BY_KEY: dict[str, Preset] = {preset.key: preset for preset in PRESETS}


def presets_in(group: str) -> list[Preset]:
    return [preset for preset in PRESETS if preset.group == group]
