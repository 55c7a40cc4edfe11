"""The guided walk through the notebook: five steps on the notebook presets, links that round-trip,
sentences whose figures come from the arithmetic."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from bertviz_core.arithmetic import presets, tour
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.arithmetic.params import total_params

# The real model's count for each step (model.count_params(), see FIELD_NOTES): the notebook's
# 87 million, 102 million and 491 thousand.
REAL_COUNTS = (87_404_010, 102_015_010, 87_404_010, 491_814, 491_814)


def test_five_steps_in_the_notebooks_order() -> None:
    assert len(tour.STEPS) == 5
    assert [step.number for step in tour.STEPS] == [1, 2, 3, 4, 5]
    assert [step.preset_key for step in tour.STEPS] == [p.key for p in presets.presets_in(presets.NOTEBOOK)]
    assert all(step.title and len(step.title) <= 30 for step in tour.STEPS)


@pytest.mark.parametrize("step", tour.STEPS, ids=lambda step: step.preset_key)
def test_a_step_shows_what_its_preset_shows(step: tour.TourStep) -> None:
    assert step.state == ExplorerState().with_preset(step.preset_key)
    if step.preset.config is not None:
        assert step.config == step.preset.config


@pytest.mark.parametrize("step", tour.STEPS, ids=lambda step: step.preset_key)
def test_the_link_round_trips_to_the_steps_configuration(step: tour.TourStep) -> None:
    parts = urlsplit(step.link)
    assert parts.path == "/"
    query = dict(parse_qsl(parts.query))
    assert query == step.link_params == {**step.state.share_params(), tour.STEP_KEY: str(step.number)}
    assert (
        tour.step_in_link(query.pop(tour.STEP_KEY)) == step.number
    )  # the walk's key; the rest the explorer's
    opened = ExplorerState.from_link(query)
    assert opened.config == step.config
    assert opened.notes == ()  # a step's link is valid as it stands: nothing is snapped or ignored


def test_the_links_are_the_shortest_ones() -> None:
    assert [step.link for step in tour.STEPS] == [
        "/?vocab=1000&step=1",
        "/?vocab=20000&step=2",
        "/?vocab=1000&seq_len=36&step=3",
        "/?vocab=1000&seq_len=36&embed_dim=6&heads=6&step=4",
        "/?vocab=1000&seq_len=36&embed_dim=6&heads=1&step=5",
    ]
    assert [tour.step_in_link(raw) for raw in ("4", " 5 ", "0", "6", "x", "")] == [
        4,
        5,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("step", "real_count"),
    zip(tour.STEPS, REAL_COUNTS, strict=True),
    ids=lambda value: value.preset_key if isinstance(value, tour.TourStep) else str(value),
)
def test_each_step_tells_its_total(step: tour.TourStep, real_count: int) -> None:
    assert total_params(step.config) == real_count
    assert f"{real_count:,}" in step.notebook_saw + " " + step.explorer_shows


def test_the_sentences_carry_the_arithmetics_other_figures() -> None:
    first, second, third, fourth, fifth = tour.STEPS
    assert "768,000" in first.explorer_shows  # the 1,000 × 768 token embedding
    # 19,000 more words, each a 768-wide row and one MLM output bias.
    added = total_params(second.config) - total_params(first.config)
    assert added == 19_000 * (768 + 1) == 14_611_000
    assert "14,611,000" in second.explorer_shows and "19,000" in second.explorer_shows
    assert "393,216" in third.explorer_shows  # 512 positions × 768
    assert "5.62" in fourth.notebook_saw
    assert "479,304" in fifth.explorer_shows and "97.5%" in fifth.explorer_shows


def test_the_sentences_are_computed_not_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tour, "total_params", lambda config: 1_234_567 + config.vocab)
    assert "1,235,567" in tour.STEPS[0].notebook_saw
    assert "87,404,010" not in tour.STEPS[0].notebook_saw
    assert "1,235,567" in tour.STEPS[4].notebook_saw
    assert "491,814" not in tour.STEPS[4].notebook_saw + tour.STEPS[4].explorer_shows
    assert "1.2 M" in tour.summary()


def test_the_twelve_heads_step_brings_the_notebooks_error() -> None:
    step = tour.STEPS[3]
    assert step.preset.config is None  # 12 heads cannot split 6: the notebook's IndexError
    kinds = [note.kind for note in step.state.notes]
    texts = [note.text for note in step.state.notes]
    assert kinds == ["info", "error", "warning"]
    assert "Invalid head number 12 with the given input dim 6" in texts[1]
    assert texts[1] == step.preset.explanation
    assert "the head count is now 6" in texts[2]
    assert step.config == ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=6)
    assert "Invalid head number 12 with the given input dim 6" in step.notebook_saw
    assert "6, and counts 491,814" in step.explorer_shows


def test_sentences_are_single_sentences_in_the_apps_own_words() -> None:
    for step in tour.STEPS:
        for sentence in (step.notebook_saw, step.explorer_shows):
            assert sentence.endswith(".")
            # One sentence: no full stop followed by a capital inside it (numbers like 5.62 are fine).
            assert not any(
                sentence[i] == "." and sentence[i + 1] == " " and sentence[i + 2].isupper()
                for i in range(len(sentence) - 2)
            ), sentence
    # Not the notebook's prose: its sentence about the error is not copied.
    assert "we get an error about a head number" not in tour.STEPS[3].notebook_saw


def test_a_stale_step_number_lands_on_the_walk() -> None:
    assert tour.step(0) is tour.STEPS[0]
    assert tour.step(3) is tour.STEPS[2]
    assert tour.step(9) is tour.STEPS[-1]


def test_the_summary_spans_the_story() -> None:
    assert (
        tour.summary()
        == "5 steps with Back and Next, from 87.4 M parameters to a model of 491.8 k that builds."
    )
