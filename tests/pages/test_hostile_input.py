"""Hostile links and extreme boxes on the pages themselves (AppTest): never an exception.

The explorer with a handful of hostile links, and the training page's number boxes at their
limits. The explorer's sliders at their limits are covered in test_explorer_page.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic.params import total_params
from bertviz_core.fields import MODEL_FIELD

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPLORER = str(REPO_ROOT / "app_pages" / "explorer.py")
TRAINER = str(REPO_ROOT / "app_pages" / "train.py")


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
    config = app.session_state["shared_model"].config
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
        name = box.key.removeprefix("train_model_")
        # A model box takes any whole number (the page refuses one out of its bounds in a sentence):
        # its limits are the field's bounds for training; the other boxes' are the widget's own.
        bounds[box.key] = (
            MODEL_FIELD[name].train_bounds
            if name in MODEL_FIELD
            else (int(box.proto.min), int(box.proto.max))
        )
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
