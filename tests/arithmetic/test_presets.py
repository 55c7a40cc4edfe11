"""Presets follow the notebook's steps and Google's BERT sizes; the explanations compute their numbers."""

from __future__ import annotations

import pytest

from bertviz_core import text
from bertviz_core.arithmetic import explain, presets
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params

EXPECTED_COUNTS = {
    "notebook-1": 87_404_010,
    "notebook-2": 102_015_010,
    "notebook-3": 87_404_010,
    "notebook-5": 491_814,
    "bert-tiny": 4_433_468,
    "bert-mini": 11_267_900,
    "bert-small": 29_058_876,
    "bert-medium": 41_668_412,
    "bert-base": 110_106_428,
    "bert-large": 336_226_108,
}


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED_COUNTS.items()))
def test_preset_counts_match_the_published_figures(key: str, expected: int) -> None:
    preset = presets.BY_KEY[key]
    assert preset.config is not None
    assert preset.explanation is None
    assert total_params(preset.config) == expected


def test_notebook_steps_come_first_and_in_order() -> None:
    keys = [preset.key for preset in presets.PRESETS]
    assert keys[:5] == ["notebook-1", "notebook-2", "notebook-3", "notebook-4", "notebook-5"]
    assert [preset.group for preset in presets.PRESETS[:5]] == [presets.NOTEBOOK] * 5
    assert [preset.key for preset in presets.presets_in(presets.GOOGLE)] == [
        "bert-tiny", "bert-mini", "bert-small", "bert-medium", "bert-base", "bert-large",
    ]  # fmt: skip


def test_notebook_steps_change_one_thing_at_a_time() -> None:
    step1, step2, step3, step4, step5 = presets.presets_in(presets.NOTEBOOK)
    assert step1.config == ModelConfig(vocab=1000)
    assert step2.config == ModelConfig(vocab=20000)
    assert step3.config == ModelConfig(vocab=1000, seq_len=36)
    assert dict(step4.settings) == {"vocab": 1000, "seq_len": 36, "embed_dim": 6}
    assert step5.config == ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)


def test_the_invalid_step_explains_the_notebooks_error() -> None:
    step4 = presets.BY_KEY["notebook-4"]
    assert step4.config is None
    assert "Invalid head number 12 with the given input dim 6" in step4.explanation
    assert "valid counts are 1, 2, 3, 6" in step4.explanation


def test_sequence_length_step_keeps_the_count_and_says_why() -> None:
    step3 = presets.BY_KEY["notebook-3"]
    assert total_params(step3.config) == total_params(presets.BY_KEY["notebook-1"].config)
    note = explain.sequence_length_note(step3.config)
    assert "512 × 768 = 393,216" in note  # the position table depends on P, not on S
    assert "S = 36" in note


def test_google_presets_use_a_64_wide_head_and_four_times_the_width() -> None:
    for preset in presets.presets_in(presets.GOOGLE):
        config = preset.config
        assert config.embed_dim == 64 * config.heads
        assert config.ff_dim == 4 * config.embed_dim
        assert (config.vocab, config.pos_num) == (30522, 512)


def test_feed_forward_note_computes_the_notebooks_last_model() -> None:
    config = presets.BY_KEY["notebook-5"].config
    assert explain.feed_forward_params(config) == 479_304
    note = explain.feed_forward_note(config)
    assert "12 × (2·6·3,072 + 3,072 + 6) = 479,304 of the 491,814" in note
    assert "97.5%" in note
    # The note suggests the usual F = 4·d and gives that model's count, computed.
    assert f"{total_params(config.with_changes(ff_dim=24)):,}" in note


def test_feed_forward_note_follows_the_configuration() -> None:
    config = ModelConfig(embed_dim=128, heads=2, layers=2, ff_dim=512)
    note = explain.feed_forward_note(config)
    assert f"{2 * (2 * 128 * 512 + 512 + 128):,}" in note
    assert "does not follow embed_dim" not in note  # F = 4d already


def test_fourth_root_rule() -> None:
    assert explain.fourth_root(1000) == pytest.approx(5.623, abs=1e-3)
    assert explain.fourth_root(10_000) == pytest.approx(10.0)
    note = explain.fourth_root_note(ModelConfig(vocab=1000))
    assert "5.62" in note and "about 6" in note
    assert "768" in note


def test_nearest_head_count() -> None:
    assert explain.nearest_head_count(6, 12) == 6
    assert explain.nearest_head_count(768, 7) == 6  # 6 and 8 tie: the smaller wins
    assert explain.nearest_head_count(7, 12) == 7
    assert explain.nearest_head_count(768, 12) == 12


def test_formatting() -> None:
    assert text.format_count(87_404_010) == "87,404,010"
    assert text.format_bytes(440_425_712) == "420.0 MB"
    assert text.format_bytes(512) == "512 B"
    assert text.format_flops(121_245_440_000) == "121.2 GFLOP"
    assert text.format_flops(121_245_440_000, short=True) == "121.2 G"
    assert text.format_short_count(491_814) == "491.8 k"
