"""Looking inside a trained model in a real browser: the TF-IDF baseline, a confusion-matrix cell
clicked open, a text ticked, and its attention and attributions.

Streamlit returns no selection from a plotly heatmap, so the page shows the matrix as a table with
single-cell selection as well; this test clicks that table's canvas where the cell is drawn.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.test_train_journey import TRAINING_TIMEOUT_MS, make_tiny, open_train_page

HEADER_PX = ROW_PX = 35  # st.dataframe's header and row heights


def click_cell(page, table, row: int, column: int, columns: int) -> None:
    """Click a data cell of a Streamlit dataframe (its canvas), counting columns after the index.

    Only the index column's width is unknown; the last column's centre hardly depends on it, so a
    test should click there (``column == columns - 1``)."""
    box = table.bounding_box()
    index_width = 80
    width = (box["width"] - index_width) / columns
    x = box["x"] + index_width + width * (column + 0.5)
    y = box["y"] + HEADER_PX + ROW_PX * row + ROW_PX / 2
    page.mouse.click(x, y)


def test_mistakes_of_a_cell_and_a_look_inside(
    page, wait_for_run, finished_runs, screenshot_dir, app_server_pid
):
    page.set_viewport_size({"width": 1024, "height": 900})
    open_train_page(page, wait_for_run)  # the shipped reviews sample: not separable, so there are mistakes
    make_tiny(page, wait_for_run, finished_runs, epochs=1)
    page.locator(".st-key-train_start button").click()
    page.locator(".st-key-train_per_class").wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_for_run(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("TF-IDF baseline", exact=True).wait_for(timeout=30_000)
    assert main.get_by_text(re.compile("bag of words")).count() >= 1

    # The matrix table: true class "negative" (row 0) predicted "positive" (the last column).
    cells = page.locator("[class*='st-key-train_cells_']")
    cells.scroll_into_view_if_needed()
    count = int(cells.locator("#glide-cell-2-0").text_content())  # the grid's accessible copy
    before = finished_runs(page)
    click_cell(page, cells, row=0, column=1, columns=2)
    wait_for_run(page, after=before)
    heading = main.get_by_text(re.compile(r"validation texts? of class"))
    assert heading.inner_text().startswith(f"{count:,} validation")
    assert "negative predicted as positive" in heading.inner_text()
    texts = page.locator("[class*='st-key-train_cell_texts_']")
    # Its first row (the accessible copy; column 0 is the row's checkbox, the text comes last) is of that cell.
    assert texts.locator("#glide-cell-1-0").text_content() == "negative"
    assert texts.locator("#glide-cell-2-0").text_content() == "positive"

    texts.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "mistakes_1024.png"))

    # Tick the first text (the row's checkbox): it becomes the text to look inside with.
    box = texts.bounding_box()
    before = finished_runs(page)
    page.mouse.click(box["x"] + 17, box["y"] + HEADER_PX + ROW_PX / 2)
    wait_for_run(page, after=before)
    first_text = texts.locator("#glide-cell-6-0").text_content()
    assert page.locator(".st-key-train_explain_text input").input_value() == first_text
    page.locator(".st-key-train_attention_grid").wait_for(timeout=120_000)
    wait_for_run(page)
    attributions = page.locator(".st-key-train_attributions")
    attributions.scroll_into_view_if_needed()
    assert "What moved p(" in attributions.inner_text() and "[CLS]" in attributions.inner_text()
    assert (
        "Encoder-1-MultiHeadSelfAttention, head 1"
        in page.locator(".st-key-train_attention_head").inner_text()
    )
    assert main.get_by_text(re.compile("add up to")).count() == 1
    page.screenshot(path=str(screenshot_dir / "look_inside_1024.png"))
    # Looking inside ran in a worker: the server's own process never loaded TensorFlow.
    assert "tensorflow" not in Path(f"/proc/{app_server_pid}/maps").read_text()


pytestmark = pytest.mark.timeout(900)
