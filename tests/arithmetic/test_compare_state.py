"""A pinned configuration A in the explorer's state and its shared link (the ``a_`` keys).

A link is input from strangers: an ``a_`` value that is bad on its own is left out with a note, an A
that is not a valid configuration is repaired as the main configuration is, and nothing raises.
Every way in (controls, presets, bert_config.json files) keeps A pinned.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bertviz_core.arithmetic import presets
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import PINNED_KEYS, ExplorerState
from bertviz_core.fields import QUERY_KEYS
from tests.arithmetic.test_explorer_state import (
    HOSTILE_VALUES,
    TINY_BERT_CONFIG,
    assert_note,
    link_values,
    valid_configs,
)

NOTEBOOK = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
NOTEBOOK_LINK = {"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "1"}


def test_pinning_keeps_what_is_shown_as_a_and_the_link_carries_both() -> None:
    state = ExplorerState.from_link(NOTEBOOK_LINK).with_pinned()
    assert state.pinned == NOTEBOOK and state.config == NOTEBOOK and state.notes == ()
    moved = state.with_value("layers", 24)
    assert moved.pinned == NOTEBOOK and moved.config == NOTEBOOK.with_changes(layers=24)
    link = moved.share_params()
    assert link == {**NOTEBOOK_LINK, "layers": "24", "a_vocab": "1000", "a_seq_len": "36", "a_embed_dim": "6",
                    "a_heads": "1"}  # fmt: skip
    again = ExplorerState.from_link(link)
    assert (again.pinned, again.config, again.notes) == (NOTEBOOK, moved.config, ())


def test_a_pinned_bert_base_still_makes_a_link_that_pins_it() -> None:
    state = ExplorerState().with_pinned().with_value("vocab", 1000)
    assert state.share_params() == {"vocab": "1000", "a_vocab": "30522"}
    assert ExplorerState.from_link(state.share_params()).pinned == ModelConfig()
    assert "a_vocab" not in ExplorerState().with_pinned().without_pinned().share_params()


@given(valid_configs(), valid_configs())
def test_any_two_configurations_round_trip_through_the_link(a: ModelConfig, b: ModelConfig) -> None:
    state = ExplorerState.from_config(a).with_pinned()
    for name, value in b.to_dict().items():  # the controls move one by one to B
        state = state.with_value(name, value)
    assert (state.pinned, state.config) == (a, b)
    link = state.share_params()
    assert set(link) <= set(QUERY_KEYS) | set(PINNED_KEYS) and any(key in PINNED_KEYS for key in link)
    again = ExplorerState.from_link(link)
    assert (again.pinned, again.config, again.notes) == (a, b, ())


@given(
    st.dictionaries(st.sampled_from(PINNED_KEYS + QUERY_KEYS + ("a_", "a_colour", "A_vocab")), link_values)
)
def test_any_link_with_a_gives_valid_configurations_and_short_notes(params: dict) -> None:
    state = ExplorerState.from_link(params)
    assert isinstance(state.config, ModelConfig)
    if any(key in PINNED_KEYS for key in params):
        assert isinstance(state.pinned, ModelConfig)
        ModelConfig(**state.pinned.to_dict())
    else:
        assert state.pinned is None
    assert len(state.notes) <= len(params)
    for note in state.notes:
        assert_note(note)
    again = ExplorerState.from_link(state.share_params())
    assert (again.pinned, again.config, again.notes) == (state.pinned, state.config, ())


@pytest.mark.parametrize(
    "bad", ["abc", "0.5", "-5", "9" * 13, "<b>x</b>", "[click](http://x.example)", "1e3"]
)
@pytest.mark.parametrize("key", ["a_vocab", "a_embed_dim", "a_layers", "a_encoder_only"])
def test_a_bad_a_value_is_a_note_and_the_rest_of_a_applies(key: str, bad: str) -> None:
    state = ExplorerState.from_link({**NOTEBOOK_LINK, "a_pos_num": "1024", "a_ff_dim": "64", key: bad})
    name = key.removeprefix("a_")
    assert state.config == NOTEBOOK  # B is untouched
    assert len(state.notes) == 1 and state.notes[0].kind == "warning"
    text = state.notes[0].text.replace("\\", "")
    assert f"{key}=" in text and "was ignored" in text and text.count(". ") == 0, text
    assert "](http" not in state.notes[0].text and "<b>" not in state.notes[0].text
    assert (state.pinned.ff_dim, state.pinned.pos_num) == (64, 1024)  # every other value of A kept
    assert getattr(state.pinned, name) == getattr(ModelConfig(), name)  # the bad one: the default


@pytest.mark.parametrize("bad", HOSTILE_VALUES)
def test_hostile_a_values_never_raise(bad: str) -> None:
    state = ExplorerState.from_link({key: bad for key in PINNED_KEYS})
    assert isinstance(state.pinned, ModelConfig)
    for note in state.notes:
        assert_note(note)


def test_an_a_that_is_not_a_valid_configuration_is_repaired_with_one_sentence_each() -> None:
    state = ExplorerState.from_link(
        {"a_embed_dim": "6", "a_heads": "12", "a_seq_len": "1024", "a_vocab": "1000"}
    )
    assert state.pinned == ModelConfig(
        vocab=1000, embed_dim=6, heads=6, seq_len=512
    )  # every value it could keep
    assert state.config == ModelConfig()
    texts = [note.text for note in state.notes]
    assert len(texts) == 2, texts
    assert texts[0].startswith("In the pinned A, 12 heads cannot split an embedding dimension of 6")
    assert "sequence length of 1,024" in texts[1] and "compared at a sequence length of 512" in texts[1]
    for text in texts:
        assert text.count(". ") == 0 and text.endswith("."), text


def test_an_unknown_a_key_is_a_note() -> None:
    state = ExplorerState.from_link({"a_colour": "red", "a_vocab": "1000"})
    assert state.pinned == ModelConfig(vocab=1000)
    assert len(state.notes) == 1 and "'a\\_colour' is not one the explorer knows" in state.notes[0].text


def test_every_way_in_keeps_a_pinned() -> None:
    state = ExplorerState.from_link(NOTEBOOK_LINK).with_pinned()
    ways = [
        state.with_value("embed_dim", 10),  # snaps the heads, with a note
        state.with_preset("bert-tiny"),
        state.with_bert_config(TINY_BERT_CONFIG, "bert_config.json"),
        state.with_bert_config(b"not json", "broken.json"),
        state.with_value("seq_len", 1024).with_positions_raised(),
    ]
    for moved in ways:
        assert moved.pinned == NOTEBOOK
    assert ways[1].config == presets.BY_KEY["bert-tiny"].config
    assert ways[3].notes[0].kind == "error" and ways[3].config == NOTEBOOK


def test_unpin_and_swap() -> None:
    state = ExplorerState.from_link(NOTEBOOK_LINK).with_pinned().with_value("layers", 2)
    swapped = state.with_swapped()
    assert swapped.pinned == NOTEBOOK.with_changes(layers=2) and swapped.config == NOTEBOOK
    assert swapped.with_swapped().pinned == NOTEBOOK
    unpinned = state.without_pinned()
    assert unpinned.pinned is None and unpinned.config == state.config
    assert ExplorerState().with_swapped() == ExplorerState()  # nothing pinned: nothing to swap
