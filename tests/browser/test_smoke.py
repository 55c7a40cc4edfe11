"""The app opens in a real browser, finishes its first run and shows no exception."""

from __future__ import annotations


def test_root_url_renders_without_exception(page, wait_for_run, screenshot_dir):
    page.goto("/")
    wait_for_run(page)

    assert page.locator("[data-testid='stException']").count() == 0
    # The default page rendered something of its own, not only Streamlit's empty frame.
    assert page.locator("[data-testid='stMain'] [data-testid='stElementContainer']").count() > 0

    screenshot = screenshot_dir / "smoke-root.png"
    # Streamlit scrolls inside its own container, so a full-page shot adds nothing; frozen
    # animations keep fading elements from being caught half drawn.
    page.screenshot(path=str(screenshot), animations="disabled")
    assert screenshot.stat().st_size > 0


def test_deep_link_to_the_training_page_on_a_cold_server_uses_the_apps_navigation(
    fresh_app_page, wait_for_run
):
    # No session has run app.py on this server yet: the page files are not in a pages/ folder, so
    # Streamlit has no old-style page list of its own to run instead of app.py's navigation.
    page = fresh_app_page
    page.goto("/train")
    wait_for_run(page)
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("[data-testid='stSidebarNav'] a"))
             .some(link => link.innerText.includes("Model size explorer"))""",
        polling=200,
    )
    wait_for_run(page)
    links = page.locator("[data-testid='stSidebarNav'] a")
    names = [text.split("\n")[-1] for text in links.all_inner_texts()]
    assert names == ["Model size explorer", "Train a classifier"]
    assert page.locator("h1").first.inner_text() == "Train a classifier"
    # The first visit of a fresh server measures the machine's speed, and the predicted epoch time
    # and the ladder's plan appear by themselves, without a change from the visitor; the page's one
    # follower of the measurement (timing.follow_measurement) draws them.
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Predicted on this machine", exact=False).wait_for(timeout=120_000)
    page.locator(".st-key-ladder_start").wait_for(timeout=30_000)
    assert main.get_by_text("Measuring this machine", exact=False).count() == 0
    assert errors == []
