"""The notebook walk in Chromium at 1024 px: Start, Next to step 5, Back to step 1; at each step the
total the explorer shows, the address bar and the step's own link all match the step."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from bertviz_core.arithmetic import tour
from bertviz_core.arithmetic.params import total_params

TOTAL_IS_JS = (
    "expected => document.querySelector(\"[data-testid='stMetricValue']\")?.innerText.trim() === expected"
)
ADDRESS_IS_JS = "expected => location.pathname + location.search === expected"
# Where the walk's box sits and how tall it is, and whether anything in it is wider than the box.
BOX_JS = """() => {
  const box = document.querySelector('.st-key-explorer_tour');
  const rect = box.getBoundingClientRect();
  const overflowing = Array.from(box.querySelectorAll('*'))
    .filter(element => element.getBoundingClientRect().right > rect.right + 1).length;
  return {height: rect.height, overflowing};
}"""


def _button(page, key: str):
    # By role: a button with a tooltip also has a hidden copy that Streamlit measures its width with.
    return page.locator(f".st-key-explorer_tour_{key}").get_by_role("button")


def _press(page, key: str, wait_for_run, finished_runs) -> None:
    before = finished_runs(page)
    _button(page, key).click()
    wait_for_run(page, after=before)


def _check_step(page, step: tour.TourStep) -> float:
    """Assert the page shows ``step``; return the walk's box height in pixels."""
    page.wait_for_function(TOTAL_IS_JS, arg=f"{total_params(step.config):,}", polling=200)
    page.wait_for_function(ADDRESS_IS_JS, arg=step.link, polling=200)
    query = urlsplit(page.url).query
    assert "/?" + query == step.link
    box = page.locator(".st-key-explorer_tour")
    assert f"Step {step.number} of 5: {step.title}" in box.inner_text()
    assert step.notebook_saw in box.inner_text()
    link = box.get_by_role("link", name=f"Link to step {step.number}")
    assert dict(parse_qsl(urlsplit(link.get_attribute("href")).query)) == step.link_params
    assert _button(page, "back").is_disabled() == (step.number == 1)
    assert _button(page, "next").is_disabled() == (step.number == len(tour.STEPS))
    back, link_box = _button(page, "back").bounding_box(), link.bounding_box()
    centre = link_box["y"] + link_box["height"] / 2
    assert back["y"] <= centre <= back["y"] + back["height"], (back, link_box)  # one row at 1024 px
    layout = page.evaluate(BOX_JS)
    assert layout["overflowing"] == 0, step.number  # nothing sticks out of the box at 1024 px
    return layout["height"]


def test_walk_the_notebooks_story(page, wait_for_run, finished_runs, screenshot_dir) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto("/")
    wait_for_run(page)
    _button(page, "start").wait_for()
    closed_height = page.evaluate(BOX_JS)["height"]
    page.screenshot(path=str(screenshot_dir / "tour-closed.png"), animations="disabled")

    _press(page, "start", wait_for_run, finished_runs)
    heights = [_check_step(page, tour.STEPS[0])]
    for step in tour.STEPS[1:]:
        _press(page, "next", wait_for_run, finished_runs)
        heights.append(_check_step(page, step))
        if step.number == 4:  # the preset's explanation of the error, folded under the walk's story
            error = page.get_by_test_id("stAlertContentError").filter(
                has_text="Invalid head number 12 with the given input dim 6"
            )
            assert not error.is_visible()  # told once, by the walk box, until asked for
            page.get_by_text("The details of this step").click()
            error.wait_for()
            page.screenshot(path=str(screenshot_dir / "tour-step-4.png"), animations="disabled")
    for step in reversed(tour.STEPS[:-1]):
        _press(page, "back", wait_for_run, finished_runs)
        _check_step(page, step)

    # Compact: the closed walk is one line, and stepping barely moves the figures below it.
    assert closed_height < 0.6 * min(heights), (closed_height, heights)
    assert max(heights) - min(heights) < 0.15 * min(heights), heights

    _press(page, "leave", wait_for_run, finished_runs)
    _button(page, "start").wait_for()
    page.wait_for_function(TOTAL_IS_JS, arg=f"{total_params(tour.STEPS[0].config):,}", polling=200)
    assert page.get_by_test_id("stException").count() == 0
