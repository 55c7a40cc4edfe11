"""The size ladder in a real browser: a budget, the climb followed live and stopped, the chart against
parameters and against file sizes, every size a run with its int8 download, and a point that opens its
run. (The plan's
arithmetic, the runner and the ``--json`` contract are proven below the page, in ``tests/test_ladder.py``,
``tests/jobs/test_ladder_run.py`` and ``tests/cli/test_cli_ladder.py``.)

Set BERTVIZ_SCREENSHOT_DIR to keep screenshots of the finished ladder at 1024 and 1400 px wide.
"""

from __future__ import annotations

from tests.browser.test_train_journey import open_train_page, reviews_csv, set_number, upload_csv

LADDER_TIMEOUT_MS = 300_000
TWO_LIVE_POINTS_JS = """() => document.querySelectorAll(
  ".st-key-ladder_live_chart .scatterlayer .trace:nth-child(2) .point").length >= 2"""


def test_climb_a_ladder_and_open_a_size_from_the_chart(page, wait_for_run, finished_runs, screenshot_dir):
    open_train_page(page, wait_for_run)
    upload_csv(page, reviews_csv(200), wait_for_run, finished_runs)
    set_number(page, "train_epochs", 1, wait_for_run, finished_runs)
    set_number(page, "train_model_seq_len", 16, wait_for_run, finished_runs)

    # The budget slider, from the keyboard as a visitor might: its least, one minute.
    page.locator(".st-key-ladder_start").wait_for(timeout=LADDER_TIMEOUT_MS)
    main = page.locator("[data-testid='stMain']")
    five_minutes = main.get_by_text(" sizes from ").first.inner_text()
    thumb = page.get_by_test_id("stSlider").filter(has_text="Time budget").get_by_role("slider")
    before = finished_runs(page)
    thumb.focus()
    thumb.press("Home")
    wait_for_run(page, after=before)
    planned = main.get_by_text(" sizes from ").first.inner_text()
    assert planned != five_minutes  # a smaller plan for one minute
    sizes = int(planned.split(" sizes from ")[0].split()[-1])

    page.get_by_role("button", name="Climb the ladder").click()
    # Live: points appear as sizes finish; two are enough to see, and Stop keeps them.
    page.wait_for_function(TWO_LIVE_POINTS_JS, timeout=LADDER_TIMEOUT_MS, polling=500)
    page.get_by_role("button", name="Stop the ladder").click()
    page.locator(".st-key-ladder_chart").wait_for(timeout=LADDER_TIMEOUT_MS)
    wait_for_run(page)
    assert main.get_by_text("Your last ladder").count() == 1
    points = page.locator(".st-key-ladder_chart .scatterlayer .trace").nth(1).locator(".point")
    finished = points.count()
    assert 2 <= finished <= sizes
    if finished < sizes:  # what Stop left out is said
        assert main.get_by_text(f"{sizes - finished} of the {sizes} planned did not finish").count() == 1
    assert main.get_by_text("The smallest size within one point of the best accuracy is").count() == 1
    # Every size is one of the visitor's runs: the results can download its int8 model.
    assert page.get_by_role("button", name="int8 model (zip)").count() == 1
    # Against the saved files' bytes, the int8 files are points of their own.
    before = finished_runs(page)
    page.get_by_role("radiogroup", name="Size as").get_by_text("saved model file").click()
    wait_for_run(page, after=before)
    page.locator(".st-key-ladder_chart .legendtext", has_text="int8 (TensorFlow Lite)").wait_for()
    assert (
        page.locator(".st-key-ladder_chart .scatterlayer .trace").nth(2).locator(".point").count() == finished
    )
    before = finished_runs(page)
    page.get_by_role("radiogroup", name="Size as").get_by_text("parameters", exact=True).click()
    wait_for_run(page, after=before)
    for width, height in ((1024, 768), (1280, 720)):
        page.set_viewport_size({"width": width, "height": height})
        page.locator(".st-key-ladder_chart").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / f"ladder-{width}.png"), full_page=False)

    # A point opens its size in the results below: the run picker names it.
    before = finished_runs(page)
    points.first.click(force=True)
    wait_for_run(page, after=before)
    main.get_by_text("The results below now show the size you clicked.").wait_for()
    run_box = page.get_by_test_id("stSelectbox").filter(has_text="Run")
    assert "ladder size L1 H8 A1 F16" in run_box.inner_html()  # the value shown, closed
