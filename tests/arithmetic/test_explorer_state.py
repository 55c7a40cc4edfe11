"""The explorer's state: links, presets and controls in, a valid configuration and notes out.

Shared links are input from strangers: properties (hypothesis) over ``ExplorerState.from_link``
and ``ModelConfig.from_mapping`` say the outcome is always a valid configuration plus one short
note per value that was changed or ignored, or a ``ConfigError`` sentence; never another exception.
Every way in settles a clash as the controls do: the values kept, the head count snapped.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bertviz_core.arithmetic import presets
from bertviz_core.arithmetic.config import ModelConfig, valid_head_counts
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import ConfigError
from bertviz_core.fields import MODEL_FIELD, QUERY_KEYS

# Strings people (and scanners) put into links: markup, formulas, other numerals, overflow.
HOSTILE_VALUES = [
    "",
    " ",
    "-0",
    "0",
    "-1",
    "1e3",
    "0x10",
    "1_000",
    "1,000",
    "+5",
    "nan",
    "inf",
    "-inf",
    "None",
    "true",
    "9" * 12,
    "9" * 13,
    "9" * 5000,
    "²",
    "١٢",
    "１２",
    "Ⅻ",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](http://example.com)",
    '=HYPERLINK("http://x")',
    "$$\\frac{1}{0}$$",
    ":red[alarm]",
    "line\nbreak",
    "\x00\x1b[31m",
    "\ud800",
    "🧨" * 50,
]
HOSTILE_KEYS = ["", " ", "vocab ", "VOCAB", "__proto__", "<b>", "embed_dim[]", "a" * 300, "\n"]

# A value as a query string or JSON delivers it: text mostly, a repeated key as a list, and
# (from JSON) numbers, booleans and null.
query_values = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.text(max_size=30),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
    st.integers(min_value=1, max_value=9000).map(str),
)
link_values = st.one_of(query_values, st.lists(query_values, max_size=3))
json_values = st.one_of(
    link_values,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
)
any_key = st.one_of(st.sampled_from(QUERY_KEYS), st.sampled_from(HOSTILE_KEYS), st.text(max_size=20))
links = st.dictionaries(any_key, link_values, max_size=10)


@st.composite
def valid_configs(draw) -> ModelConfig:
    embed_dim = draw(st.integers(*MODEL_FIELD["embed_dim"].limits))
    pos_num = draw(st.integers(*MODEL_FIELD["pos_num"].limits))
    return ModelConfig(
        vocab=draw(st.integers(*MODEL_FIELD["vocab"].limits)),
        pos_num=pos_num,
        seq_len=draw(st.integers(1, pos_num)),
        embed_dim=embed_dim,
        heads=draw(st.sampled_from(valid_head_counts(embed_dim))),
        layers=draw(st.integers(*MODEL_FIELD["layers"].limits)),
        ff_dim=draw(st.integers(*MODEL_FIELD["ff_dim"].limits)),
        encoder_only=draw(st.booleans()),
    )


def assert_note(note) -> None:
    """A note is one short string: keys and values are shown cut to 40 characters."""
    assert note.kind in {"info", "warning", "error"}
    assert isinstance(note.text, str) and note.text
    assert len(note.text) < 600, note.text


@given(links)
@example({"heads": "²"})  # a digit that int() refuses: once crashed the head-count check
@example({"heads": "١٢", "embed_dim": "١٢"})
@example({"vocab": ["5", "1000"], "vocab ": "7"})
@example({"seq_len": "8192", "pos_num": "1", "heads": "7", "embed_dim": "0"})
def test_any_link_gives_a_valid_configuration_and_short_notes(params: dict) -> None:
    state = ExplorerState.from_link(params)
    config = state.config
    assert isinstance(config, ModelConfig)
    ModelConfig(**config.to_dict())  # still valid when rebuilt from its fields
    assert len(state.notes) <= len(params)
    for note in state.notes:
        assert_note(note)
    # The page rewrites the link to what it shows; reading that link back changes nothing.
    again = ExplorerState.from_link(state.share_params())
    assert (again.config, again.notes) == (config, ())


@given(valid_configs(), st.sampled_from(HOSTILE_KEYS + ["colour", "model"]), query_values)
def test_an_unknown_key_is_ignored_and_the_rest_applies(
    config: ModelConfig, junk_key: str, junk_value: str
) -> None:
    state = ExplorerState.from_link({**config.to_query_params(), junk_key: junk_value})
    assert state.config == config
    assert len(state.notes) == 1 and "not one the explorer knows" in state.notes[0].text


@given(valid_configs(), st.sampled_from(QUERY_KEYS), st.sampled_from(HOSTILE_VALUES))
def test_one_bad_value_costs_only_its_own_setting(config: ModelConfig, key: str, bad: str) -> None:
    params = config.to_query_params()
    if key in params:
        return  # only keys the valid link does not set: then the rest must apply unchanged
    state = ExplorerState.from_link({**params, key: bad})
    try:
        accepted = ModelConfig.from_mapping({**params, key: bad})
    except ConfigError:
        accepted = None
    if accepted is not None:
        assert (state.config, state.notes) == (accepted, ())
    else:
        assert len(state.notes) <= 1
        for name, value in config.to_dict().items():
            if name not in (key, "heads", "seq_len"):
                assert state.values[name] == value, name  # every other setting kept


@given(valid_configs())
def test_valid_links_round_trip_without_notes(config: ModelConfig) -> None:
    state = ExplorerState.from_link(config.to_query_params())
    assert (state.config, state.notes) == (config, ())
    assert ModelConfig.from_mapping(config.to_query_params()) == config
    assert ModelConfig.from_mapping(config.to_dict()) == config


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=20)), json_values, max_size=9))
def test_from_mapping_gives_a_configuration_or_one_sentence(values: dict) -> None:
    try:
        config = ModelConfig.from_mapping(values)
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message and "Traceback" not in message
        assert message.endswith("."), message
    else:
        assert isinstance(config, ModelConfig)
        assert total_params(config) > 0


def test_the_notebooks_failing_link_keeps_its_embedding_and_snaps_the_heads_as_the_preset_does() -> None:
    link = ExplorerState.from_link({"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "12"})
    preset = ExplorerState().with_preset("notebook-4")
    assert link.config == preset.config == ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=6)
    assert any("12 heads cannot split an embedding dimension of 6" in note.text for note in link.notes)
    assert link.share_params() == {"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "6"}


def test_a_control_change_clears_the_notes_and_snaps_the_heads() -> None:
    state = ExplorerState.from_link({"bogus": "1"})
    assert state.notes
    moved = state.with_value("embed_dim", 10)  # 12 heads cannot split 10
    assert moved.config.embed_dim == 10 and moved.config.heads == 10
    assert [note.kind for note in moved.notes] == ["warning"]
    assert moved.with_value("layers", 3).notes == ()


def test_a_sequence_longer_than_the_positions_is_shown_at_the_tables_length_until_raised() -> None:
    state = ExplorerState().with_value("seq_len", 1024)
    assert state.values["seq_len"] == 1024 and state.config.seq_len == 512
    assert "raise the position count to at least 1,024" in state.sequence_problem
    raised = state.with_positions_raised()
    assert raised.sequence_problem is None and raised.config.seq_len == raised.config.pos_num == 1024


@pytest.mark.parametrize("key", sorted(presets.BY_KEY))
def test_every_preset_gives_a_valid_state_with_its_description_first(key: str) -> None:
    state = ExplorerState().with_value("layers", 3).with_preset(key)
    preset = presets.BY_KEY[key]
    assert state.notes[0].kind == "info" and preset.name in state.notes[0].text
    if preset.config is not None:
        assert state.config == preset.config
    assert state.config.heads in valid_head_counts(state.config.embed_dim)


# Google's uncased_L-2_H-128_A-2/bert_config.json, as the release ships it.
TINY_BERT_CONFIG = (
    b'{\n  "hidden_size": 128,\n  "hidden_act": "gelu",\n  "initializer_range": 0.02,\n  "vocab_size": 30522,\n'
    b'  "hidden_dropout_prob": 0.1,\n  "num_attention_heads": 2,\n  "type_vocab_size": 2,\n'
    b'  "max_position_embeddings": 512,\n  "num_hidden_layers": 2,\n  "intermediate_size": 512,\n'
    b'  "attention_probs_dropout_prob": 0.1\n}\n'
)


def test_a_checkpoints_bert_config_sets_every_value_and_counts_the_heads_it_holds() -> None:
    start = ExplorerState.from_link({"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "1",
                                     "encoder_only": "1"})  # fmt: skip
    state = start.with_bert_config(TINY_BERT_CONFIG, "bert_config.json")
    expected = ModelConfig(embed_dim=128, heads=2, layers=2, ff_dim=512, seq_len=512, encoder_only=False)
    assert state.config == expected and state.sequence_problem is None
    assert total_params(state.config) == 4_433_468  # Google's "4.4M" for BERT-Tiny
    assert [note.kind for note in state.notes] == ["info", "info"]
    assert state.notes[0].text.startswith("**bert\\_config\\.json**: ")
    assert "4,433,468 parameters" in state.notes[1].text and "17,733,872 bytes" in state.notes[1].text
    assert state.share_params() == {"embed_dim": "128", "heads": "2", "layers": "2", "ff_dim": "512"}
    assert state.with_value("layers", 3).notes == ()  # the notes go with the next change


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\xff", "not UTF-8 text"),
        (b"vocab_size = 30522", "not valid JSON"),
        (b"[1, 2]", "one JSON object"),
        (
            TINY_BERT_CONFIG.replace(b'"num_hidden_layers": 2', b'"num_hidden_layers": "2"'),
            "num_hidden_layers",
        ),
        (TINY_BERT_CONFIG.replace(b'"gelu"', b'"relu"'), "'relu'"),
        (TINY_BERT_CONFIG.replace(b'"num_attention_heads": 2', b'"num_attention_heads": 3'), "3 heads"),
        (
            TINY_BERT_CONFIG.replace(b'"num_hidden_layers": 2', b'"num_hidden_layers": 500'),
            "between 1 and 96",
        ),
        (b'{"pad": "' + b"x" * 70_000 + b'"}', "larger than 64 KB"),
    ],
    ids=["binary", "not-json", "list", "text-number", "activation", "heads", "range", "huge"],
)
def test_a_broken_bert_config_keeps_the_values_and_says_one_sentence(raw: bytes, mentions: str) -> None:
    start = ExplorerState().with_value("layers", 3)
    state = start.with_bert_config(raw, "<img src=x onerror=alert(1)>.json")
    assert state.values == start.values
    assert len(state.notes) == 1 and state.notes[0].kind == "error"
    plain = state.notes[0].text.replace("\\", "")
    assert mentions in plain and "\n" not in plain and plain.count(". ") == 0 and plain.endswith("."), plain


def test_a_hostile_file_name_is_shown_literally() -> None:
    state = ExplorerState().with_bert_config(TINY_BERT_CONFIG, "[click](http://x.example)<b>" + "a" * 300)
    name = state.notes[0].text.split("**")[1]
    assert "\\[click\\]\\(http\\:" in name and "](http" not in name and "<b>" not in name
    assert len(name.replace("\\", "")) <= 40  # cut, as every user value in a message is
