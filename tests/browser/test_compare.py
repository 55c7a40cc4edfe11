"""A against B in Chromium: a link holding both configurations, then pinning by hand, a control
moved, the comparison read at 1024 px and its CSV downloaded."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bertviz_core.arithmetic.compare import CSV_COLUMNS
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import layer_rows, total_params

NOTEBOOK = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
NOTEBOOK_LINK = "/?vocab=1000&seq_len=36&embed_dim=6&heads=1"
SECTION = ".st-key-explorer_comparison"
# Any element of the comparison whose content is wider than its box (cut off, or scrolling sideways).
OVERFLOWING_JS = """selector => Array.from(document.querySelectorAll(
  `${selector} [data-testid="stTable"], ${selector} [data-testid="stTable"] td, ${selector} [data-testid="stMarkdownContainer"]`))
  .filter(element => element.scrollWidth > element.clientWidth + 1).map(element => element.innerText.slice(0, 60))"""


def _wait_for_text(page, text: str) -> None:
    page.locator(SECTION).get_by_text(text, exact=True).first.wait_for()


def test_a_link_with_both_configurations_shows_both_totals_and_the_difference(
    page, wait_for_run, screenshot_dir
) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(NOTEBOOK_LINK + "&a_vocab=30522")  # A: BERT-base, keras-bert's defaults; B: the notebook's
    wait_for_run(page)
    section = page.locator(SECTION)
    section.get_by_text("A against B").wait_for()
    for text in ("110,106,428", "491,814", "-109,614,614"):
        _wait_for_text(page, text)
    totals = section.get_by_test_id("stTable").first.inner_text()
    assert "Parameters" in totals and "Training memory (batch 32)" in totals
    assert page.evaluate(OVERFLOWING_JS, SECTION) == []  # readable at 1024 px: nothing cut off
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "compare-1024.png"), full_page=True)


def test_pin_move_a_control_and_download_the_comparison(
    page, wait_for_run, finished_runs, screenshot_dir
) -> None:
    page.goto(NOTEBOOK_LINK)
    wait_for_run(page)
    assert page.locator(SECTION).count() == 0
    before = finished_runs(page)
    page.get_by_role("button", name="Pin as A").click()
    wait_for_run(page, after=before)
    page.locator(SECTION).get_by_text("A and B are the same configuration").wait_for()

    # The layer slider's thumb: one step right gives B a 13th encoder block.
    thumb = page.get_by_test_id("stSlider").filter(has_text="Layer count L").get_by_role("slider")
    thumb.focus()
    before = finished_runs(page)
    thumb.press("ArrowRight")
    wait_for_run(page, after=before)
    b = NOTEBOOK.with_changes(layers=13)
    _wait_for_text(page, f"{total_params(b):,}")
    _wait_for_text(page, f"+{total_params(b) - 491_814:,}")
    assert "a_vocab=1000" in page.url and "layers=13" in page.url  # the link holds both
    page.screenshot(path=str(screenshot_dir / "compare-pinned.png"), full_page=True)

    with page.expect_download() as download_info:
        page.locator(".st-key-explorer_download_comparison button").click()
    download = download_info.value
    assert download.suggested_filename == "bert_comparison.csv"
    frame = pd.read_csv(io.BytesIO(Path(download.path()).read_bytes()))
    assert list(frame.columns) == list(CSV_COLUMNS)
    rows = frame.set_index(["section", "name"])
    assert rows.loc[("total", "Parameters"), ["A", "B"]].tolist() == [491_814, total_params(b)]
    assert rows.loc[("setting", "layers"), ["A", "B", "B - A"]].tolist() == [12, 13, 1]
    only_b = frame[frame["present in"] == "only B"]["name"].tolist()
    assert only_b == [row.name for row in layer_rows(b) if row.block == 13]
