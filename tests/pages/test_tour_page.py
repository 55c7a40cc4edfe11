"""The notebook walk on the explorer page, headless (AppTest): Next to the end, Back to the start,
the controls, the headline figure and the link following every step."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic import tour
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "explorer.py")
TIMEOUT = 30


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _assert_clean(app: AppTest) -> None:
    assert not app.exception, [element.value for element in app.exception]


def _assert_shows(app: AppTest, step: tour.TourStep) -> None:
    _assert_clean(app)
    config = step.config
    assert app.session_state["explorer_tour_step"] == step.number
    assert app.metric[0].value == f"{total_params(config):,}"
    assert app.number_input(key="explorer_vocab_exact").value == config.vocab
    assert app.select_slider(key="explorer_embed_dim").value == config.embed_dim
    assert app.select_slider(key="explorer_seq_len").value == config.seq_len
    assert app.select_slider(key="explorer_heads").value == config.heads
    assert app.session_state["shared_model"].config == config
    assert dict(app.query_params) == step.link_params
    text = [_plain(element.value) for element in app.markdown]
    assert any(f"Step {step.number} of 5: {step.title}" in line for line in text)
    assert any(step.notebook_saw in line for line in text)
    assert any(step.explorer_shows in line for line in text)
    assert any(f"[Link to step {step.number}]({step.link})" in line for line in text)
    assert app.button(key="explorer_tour_back").disabled == (step.number == 1)
    assert app.button(key="explorer_tour_next").disabled == (step.number == 5)
    # The step's preset speaks as the preset pills do (the 12-heads explanation on step 4).
    messages = [
        _plain(element.value) for kind in ("info", "error", "warning") for element in getattr(app, kind)
    ]
    for note in step.state.notes:
        assert _plain(note.text) in messages
    if step.state.notes:  # told once: the walk box tells the story, the notes wait folded below it
        (details,) = [expander for expander in app.expander if expander.label == "The details of this step"]
        folded = [
            _plain(element.value)
            for kind in ("info", "error", "warning")
            for element in getattr(details, kind)
        ]
        assert sorted(folded) == sorted(_plain(note.text) for note in step.state.notes)


def test_a_steps_link_reopens_the_walk_at_that_step() -> None:
    """Step 4's link (the 12-heads story) opens the explorer on step 4 of the walk, not only its
    configuration; the walk's key is not taken for an unknown setting of the explorer."""
    step = tour.STEPS[3]
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    app.query_params.update(step.link_params)
    app.run()
    _assert_shows(app, step)
    assert not any("is not one the explorer knows" in element.value for element in app.warning)


def test_walk_to_the_end_and_back() -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    _assert_clean(app)
    assert app.metric[0].value == f"{total_params(ModelConfig()):,}"
    assert "explorer_tour_step" not in app.session_state
    app.button(key="explorer_tour_start").click().run()
    _assert_shows(app, tour.STEPS[0])
    for step in tour.STEPS[1:]:
        app.button(key="explorer_tour_next").click().run()
        _assert_shows(app, step)
    errors = [_plain(element.value) for element in app.error]
    assert not any("Invalid head number" in error for error in errors)  # step 4's note is gone on step 5
    for step in reversed(tour.STEPS[:-1]):
        app.button(key="explorer_tour_back").click().run()
        _assert_shows(app, step)


def test_the_twelve_heads_step_explains_the_error() -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    app.button(key="explorer_tour_start").click().run()
    for _ in range(3):
        app.button(key="explorer_tour_next").click().run()
    _assert_shows(app, tour.STEPS[3])
    assert any("Invalid head number 12 with the given input dim 6" in _plain(e.value) for e in app.error)


def test_leaving_keeps_the_settings_and_a_moved_control_is_noticed() -> None:
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    app.button(key="explorer_tour_start").click().run()
    app.button(key="explorer_tour_next").click().run()
    app.slider(key="explorer_layers").set_value(2).run()
    _assert_clean(app)
    assert any("settings have moved" in caption.value for caption in app.caption)
    app.button(key="explorer_tour_leave").click().run()
    _assert_clean(app)
    assert "explorer_tour_step" not in app.session_state
    assert app.session_state["shared_model"].config == tour.STEPS[1].config.with_changes(layers=2)
    assert app.button(key="explorer_tour_start")  # the walk can start again
