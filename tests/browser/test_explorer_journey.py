"""A visitor's path through the explorer in Chromium: a shared link, a slider, a preset, a bert_config.json.

Set ``BERTVIZ_SCREENSHOT=1`` to save ``docs/explorer.png`` (1400 × 900) for the README.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_LINK = "/?vocab=1000&seq_len=36&embed_dim=6&heads=1"
NOTEBOOK_MODEL = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
BERT_BASE_CONFIG = json.dumps(
    {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
     "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 512,
     "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2, "vocab_size": 30522}
).encode()  # fmt: skip


def _total(page) -> str:
    return page.get_by_test_id("stMetricValue").first.inner_text().strip()


def _slider_thumb(page, label: str):
    slider = page.get_by_test_id("stSlider").filter(has_text=label)
    return slider.get_by_role("slider")


def test_link_slider_and_preset(page, wait_for_run, finished_runs, screenshot_dir) -> None:
    page.goto(NOTEBOOK_LINK)
    wait_for_run(page)
    # The figures arrive a moment after the run is reported finished now and then: wait for them.
    page.wait_for_function(
        "expected => document.querySelector(\"[data-testid='stMetricValue']\")?.innerText.trim() === expected",
        arg="491,814",
    )
    assert _total(page) == "491,814"

    if os.environ.get("BERTVIZ_SCREENSHOT") == "1":
        page.set_viewport_size({"width": 1400, "height": 900})
        page.wait_for_timeout(1000)  # let the charts settle into the new width
        target = REPO_ROOT / "docs" / "explorer.png"
        target.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(target), full_page=False, animations="disabled")

    # Keyboard on the layer slider's thumb: End jumps to the largest layer count.
    thumb = _slider_thumb(page, "Layer count L")
    thumb.focus()
    before = finished_runs(page)
    thumb.press("End")
    wait_for_run(page, after=before)
    page.wait_for_function(
        "expected => document.querySelector(\"[data-testid='stMetricValue']\").innerText.trim() === expected",
        arg=f"{total_params(NOTEBOOK_MODEL.with_changes(layers=96)):,}",
    )
    assert "layers=96" in page.url  # the link follows the controls

    # Arrow keys on a select slider step through its stops: vocabulary 1,000 -> 2,000.
    thumb = _slider_thumb(page, "Vocabulary size V")
    thumb.focus()
    before = finished_runs(page)
    thumb.press("ArrowRight")
    wait_for_run(page, after=before)
    expected = f"{total_params(NOTEBOOK_MODEL.with_changes(layers=96, vocab=2000)):,}"
    page.wait_for_function(
        "expected => document.querySelector(\"[data-testid='stMetricValue']\").innerText.trim() === expected",
        arg=expected,
    )

    # A preset sets every control at once.
    before = finished_runs(page)
    page.get_by_role("radio", name="BERT-Tiny").click()  # pills are a radio group
    wait_for_run(page, after=before)
    page.wait_for_function(
        "expected => document.querySelector(\"[data-testid='stMetricValue']\").innerText.trim() === expected",
        arg="4,433,468",
    )
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(screenshot_dir / "explorer-after-preset.png"), animations="disabled")

    # A checkpoint's bert_config.json (Google's BERT-base) moves every control to its model.
    page.get_by_text("Open a checkpoint's configuration").click()
    before = finished_runs(page)
    page.locator(".st-key-explorer_bert_config [data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": "bert_config.json", "mimeType": "application/json", "buffer": BERT_BASE_CONFIG}]
    )
    wait_for_run(page, after=before)
    page.wait_for_function(
        "expected => document.querySelector(\"[data-testid='stMetricValue']\").innerText.trim() === expected",
        arg="110,106,428",
    )
    page.get_by_test_id("stAlertContentInfo").filter(has_text="440,425,712 bytes").wait_for()
    assert "embed_dim" not in page.url  # BERT-base is keras-bert's default: the shortest link
