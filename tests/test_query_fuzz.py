"""Shared links are input from strangers: random and hostile query parameters never break the explorer.

Properties (hypothesis) over ``explain.config_from_link`` and ``ModelConfig.from_mapping``: the
outcome is always a valid configuration plus one short note per ignored setting, or a
``ConfigError`` sentence; never another exception. Then the explorer page itself (AppTest) with a
handful of hostile links, and the training page's number boxes at their limits. The explorer's
sliders at their limits are covered in test_explorer_page.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from bertviz_core import explain
from bertviz_core.config import LIMITS, QUERY_KEYS, ConfigError, ModelConfig, valid_head_counts
from bertviz_core.params import total_params

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPLORER = str(REPO_ROOT / "pages" / "explorer.py")
TRAINER = str(REPO_ROOT / "pages" / "train.py")

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
    embed_dim = draw(st.integers(*LIMITS["embed_dim"]))
    pos_num = draw(st.integers(*LIMITS["pos_num"]))
    return ModelConfig(
        vocab=draw(st.integers(*LIMITS["vocab"])),
        pos_num=pos_num,
        seq_len=draw(st.integers(1, pos_num)),
        embed_dim=embed_dim,
        heads=draw(st.sampled_from(valid_head_counts(embed_dim))),
        layers=draw(st.integers(*LIMITS["layers"])),
        ff_dim=draw(st.integers(*LIMITS["ff_dim"])),
        encoder_only=draw(st.booleans()),
    )


def assert_note(note: object) -> None:
    """A note is one short string: keys and values are shown cut to 40 characters."""
    assert isinstance(note, str) and note
    assert len(note) < 600, note


# --- the core -------------------------------------------------------------------------------------


@given(links)
@example({"heads": "²"})  # a digit that int() refuses: once crashed the head-count check
@example({"heads": "١٢", "embed_dim": "١٢"})
@example({"vocab": ["5", "1000"], "vocab ": "7"})
@example({"seq_len": "8192", "pos_num": "1", "heads": "7", "embed_dim": "0"})
def test_any_link_gives_a_valid_configuration_and_short_notes(params: dict) -> None:
    config, notes = explain.config_from_link(params)
    assert isinstance(config, ModelConfig)
    ModelConfig(**config.to_dict())  # still valid when rebuilt from its fields
    assert isinstance(notes, list) and len(notes) <= len(params)
    for note in notes:
        assert_note(note)
    # The page rewrites the link to what it shows; reading that link back changes nothing.
    assert explain.config_from_link(config.to_query_params()) == (config, [])


@given(valid_configs(), st.sampled_from(HOSTILE_KEYS + ["colour", "model"]), query_values)
def test_an_unknown_key_is_ignored_and_the_rest_applies(
    config: ModelConfig, junk_key: str, junk_value: str
) -> None:
    params = {**config.to_query_params(), junk_key: junk_value}
    assert explain.config_from_link(params)[0] == config
    notes = explain.config_from_link(params)[1]
    assert len(notes) == 1 and "not one the explorer knows" in notes[0]


@given(valid_configs(), st.sampled_from(QUERY_KEYS), st.sampled_from(HOSTILE_VALUES))
def test_one_bad_value_costs_only_its_own_setting(config: ModelConfig, key: str, bad: str) -> None:
    params = config.to_query_params()
    if key in params:
        return  # only keys the valid link does not set: then the rest must apply unchanged
    config_out, notes = explain.config_from_link({**params, key: bad})
    try:
        accepted = ModelConfig.from_mapping({**params, key: bad})
    except ConfigError:
        accepted = None
    if accepted is not None:
        assert (config_out, notes) == (accepted, [])
    else:
        # Dropping the new value restores the valid link; dropping another setting may also
        # satisfy a clash (heads against embed_dim), but never more than one setting goes.
        assert len(notes) == 1
        assert_note(notes[0])


@given(valid_configs())
def test_valid_links_round_trip_without_notes(config: ModelConfig) -> None:
    assert explain.config_from_link(config.to_query_params()) == (config, [])
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


# --- the explorer page ------------------------------------------------------------------------------


def run_explorer(query: dict) -> AppTest:
    app = AppTest.from_file(EXPLORER, default_timeout=30)
    app.query_params.update(query)
    return app.run()


HOSTILE_LINKS = [
    {"heads": "²"},
    {"vocab": "9" * 5000, "layers": "-0", "ff_dim": "1e3"},
    {"vocab": ["5", "1000", "<b>x</b>"], "embed_dim": ["6", "12"], "heads": ["1", "12"]},
    {"<script>alert(1)</script>": "<img src=x onerror=alert(1)>", "vocab": "[x](javascript:alert(1))"},
    {"": "", "embed_dim": "", "encoder_only": "maybe"},
    {"seq_len": "8192", "pos_num": "1", "embed_dim": "8192", "heads": "128", "layers": "96"},
    {"vocab": "１２", "seq_len": "١٢", "layers": "Ⅻ", "ff_dim": "\x00\x1b[31m", "pos_num": "🧨" * 50},
    {"vocab": "$$\\frac{1}{0}$$", "heads": ":red[alarm]", "layers": "line\nbreak"},
]


@pytest.mark.parametrize("query", HOSTILE_LINKS, ids=range(len(HOSTILE_LINKS)))
def test_hostile_links_render_without_an_exception(query: dict) -> None:
    app = run_explorer(query)
    assert not app.exception, [element.value for element in app.exception]
    config = app.session_state["model_config"]
    assert isinstance(config, ModelConfig)
    assert app.metric[0].value == f"{total_params(config):,}"
    # The page rewrites the link to the configuration it shows, so a reload is clean.
    assert {key: str(value) for key, value in app.query_params.items()} == config.to_query_params()
    for element in [*app.warning, *app.info, *app.error]:
        # Markup from the link is shown as text: escaped (alerts never render HTML).
        assert not re.search(r"(?<!\\)[<\[]", element.value), element.value


# --- the training page's number boxes at their limits -------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("end", ["min", "max"])
def test_training_page_controls_at_their_limits_at_once(end: str) -> None:
    """Every model and training number at its smallest (or largest) at once: a sentence at most."""
    app = AppTest.from_file(TRAINER, default_timeout=180).run()
    assert not app.exception
    index = 0 if end == "min" else 1
    bounds = {}
    for box in app.number_input:
        bounds[box.key] = (int(box.proto.min), int(box.proto.max))
        box.set_value(bounds[box.key][index])
    assert {"train_model_vocab", "train_model_embed_dim", "train_epochs", "train_seed"} <= set(bounds)
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    heads = app.selectbox(key="train_model_heads")
    heads.set_value(int(heads.options[0 if index == 0 else -1]))
    app.slider(key="train_val_share").set_value(0.05 if index == 0 else 0.5)
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    if end == "max":
        # Far beyond the memory budget: refused before training, in one sentence, no Train button.
        errors = [element.value for element in app.error]
        assert any("MB" in error for error in errors), errors
        assert not [button for button in app.button if button.key == "train_start"]
    else:
        assert [button for button in app.button if button.key == "train_start"]
