"""The explorer's latency in a real browser, side by side with a bare Streamlit app.

Usage (from the repository root): ``python -m benchmarks.latency [--changes 15] [--json]``.

Starts two servers itself: ``streamlit run app.py`` and a bare app holding one number box and one
metric, Streamlit's own floor for the same interaction. In Debian's Chromium (Playwright), it types
a new vocabulary size into each app's number box, presses Enter and times until the new total is
on screen; the changes alternate between the two apps so that a busy machine slows both alike.
It also times first visits, each by a new browser profile (empty cache): from opening the URL to
the explorer's last headline figure, or to the training page's data preview, or to the bare app's
metric, on a fresh server (its first visit) and again on the same server (its second visit), and
until the page's run has ended (``..._complete_seconds``: every chart and table sent).

Prints the medians, their ratio (target: the explorer within 1.5x of the bare app) and the cold
start figures. ``--first-epoch`` adds the first training on a fresh server: from pressing Train with
the default settings until epoch 1 is reported, at once and after 15 s on the page. Needs the test
requirements (playwright) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, FINISHED_RUN_SELECTOR, wait_for_epochs

REPO_ROOT = Path(__file__).resolve().parents[1]

# Two pages, as the app has (the menu hidden), so that a deep link to /train has a bare floor too:
# Streamlit's page first asks /train/_stcore/health, in case /train is where the server lives.
BARE_APP = """
import streamlit as st


def box_and_metric():
    vocab = st.number_input("Vocabulary size", 1, 1_000_000, 30522, step=1)
    st.metric("Parameters", f"{vocab * 768:,}")


def train():
    box_and_metric()


st.navigation([st.Page(box_and_metric, default=True), st.Page(train)], position="hidden").run()
"""
BARE_MULTIPLIER = 768


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(script: Path, cwd: Path) -> Iterator[tuple[str, float]]:
    """A ``streamlit run`` server; yields its URL and the seconds it took to answer its health check."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.perf_counter() - started > 90:
                raise RuntimeError(f"streamlit did not serve {script}")
            time.sleep(0.05)
        yield url, time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def _wait_finished(page) -> None:
    page.wait_for_selector(FINISHED_RUN_SELECTOR, timeout=120_000)


def _type_and_time(page, box, value: int, expected: str) -> float:
    """Milliseconds from pressing Enter with ``value`` in ``box`` to ``expected`` in a metric."""
    box.fill(str(value))
    started = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(
        "expected => Array.from(document.querySelectorAll('[data-testid=\"stMetricValue\"]'))"
        ".some(element => element.innerText.trim() === expected)",
        arg=expected, polling="raf", timeout=60_000,
    )  # fmt: skip
    return (time.perf_counter() - started) * 1000


def _until(page, script: str, arg=None) -> None:
    """Waits until ``script`` is true, checked on every animation frame. (Playwright's own selector
    waits poll at growing intervals, up to 500 ms apart, which would add up to half a second to a
    first visit measured that way, and more to a slower page than to the bare app.)"""
    page.wait_for_function(script, arg=arg, polling="raf", timeout=120_000)


SHOWN = """([testid, count]) => Array.from(document.querySelectorAll(`[data-testid='${testid}']`))
    .filter(element => element.getBoundingClientRect().width > 0).length >= count"""
RUN_ENDED = f'() => document.querySelector("{FINISHED_RUN_SELECTOR}") !== null'


def _visit(browser, url: str, testid: str, count: int) -> tuple[float, float]:
    """A new browser profile (empty cache) opens ``url``: seconds until ``count`` elements with this
    test id are on screen, and until the page's run has ended (every chart and table sent)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    _until(page, SHOWN, [testid, count])
    on_screen = time.perf_counter() - started
    _until(page, RUN_ENDED)
    complete = time.perf_counter() - started
    page.close()
    return on_screen, complete


def cold_start(browser, rounds: int) -> dict:
    """Fresh servers, each visited twice by a new browser profile: the server's first visit (its
    modules not yet imported) and a second one (what every later visitor of a room sees). The
    explorer, the training page and the bare app, alternated round by round."""
    visits: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        bare_script = Path(folder) / "bare.py"
        bare_script.write_text(BARE_APP)
        # The explorer's five headline figures, the training page's data preview, the bare app's metric.
        targets = [("explorer", REPO_ROOT / "app.py", REPO_ROOT, "/", "stMetricValue", 5),
                   ("train_page", REPO_ROOT / "app.py", REPO_ROOT, "/train", "stDataFrame", 1),
                   ("bare_app", bare_script, Path(folder), "/", "stMetricValue", 1),
                   ("bare_app_deep_link", bare_script, Path(folder), "/train", "stMetricValue", 1)]  # fmt: skip
        for _ in range(rounds):
            for name, script, cwd, path, testid, count in targets:
                with serve(script, cwd) as (url, _):
                    for visit in ("first", "second"):
                        figures = _visit(browser, url + path, testid, count)
                        visits.setdefault(f"{name}_{visit}_visit", []).append(figures)
    figures: dict = {}
    for key, pairs in visits.items():
        figures[f"{key}_seconds"] = statistics.median(on_screen for on_screen, _ in pairs)
        figures[f"{key}_complete_seconds"] = statistics.median(complete for _, complete in pairs)
        figures[f"{key}_seconds_each"] = [round(on_screen, 2) for on_screen, _ in pairs]
    # The explorer against the bare app's root; the training page against it and against its deep link.
    for name, bare in (
        ("explorer", "bare_app"),
        ("train_page", "bare_app"),
        ("train_page", "bare_app_deep_link"),
    ):
        for visit in ("first", "second"):
            ratios = [ours[0] / floor[0] for ours, floor in
                      zip(visits[f"{name}_{visit}_visit"], visits[f"{bare}_{visit}_visit"], strict=True)]  # fmt: skip
            suffix = "_over_bare" if bare == "bare_app" else "_over_bare_deep_link"
            figures[f"{name}_{visit}_visit{suffix}"] = statistics.median(ratios)
            figures[f"{name}_{visit}_visit{suffix}_each"] = [round(ratio, 2) for ratio in ratios]
    return figures


def first_training(browser, think_seconds: float) -> dict:
    """A freshly started server: open the training page, wait ``think_seconds`` (a visitor reading the
    settings; the page warms a worker meanwhile), press Train with the defaults, time until the
    first epoch is reported."""
    with serve(REPO_ROOT / "app.py", REPO_ROOT) as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/train")
        page.locator(".st-key-train_start button").wait_for(timeout=120_000)
        _wait_finished(page)
        time.sleep(think_seconds)
        started = time.perf_counter()
        page.locator(".st-key-train_start button").click()
        wait_for_epochs(page, 1, 300_000)
        seconds = time.perf_counter() - started
        page.close()
    return {f"train_to_first_epoch_after_{think_seconds:.0f}s_seconds": seconds}


def latency(browser, changes: int) -> dict:
    values = [1000 + 997 * step for step in range(changes)]
    with tempfile.TemporaryDirectory() as folder:
        bare_script = Path(folder) / "bare.py"
        bare_script.write_text(BARE_APP)
        with (
            serve(REPO_ROOT / "app.py", REPO_ROOT) as (app_url, _),
            serve(bare_script, Path(folder)) as (bare_url, _),
        ):
            explorer = browser.new_page(viewport={"width": 1280, "height": 900})
            bare = browser.new_page(viewport={"width": 1280, "height": 900})
            explorer.goto(app_url + "/")
            _wait_finished(explorer)
            bare.goto(bare_url + "/")
            _wait_finished(bare)
            explorer_box = explorer.get_by_label("Exact vocabulary size")
            bare_box = bare.get_by_label("Vocabulary size")
            timings: dict[str, list[float]] = {"explorer": [], "bare": []}
            for index, value in enumerate([800, *values]):  # the first change of each warms up
                expected = f"{total_params(ModelConfig(vocab=value)):,}"
                explorer_ms = _type_and_time(explorer, explorer_box, value, expected)
                bare_ms = _type_and_time(bare, bare_box, value, f"{value * BARE_MULTIPLIER:,}")
                if index:
                    timings["explorer"].append(explorer_ms)
                    timings["bare"].append(bare_ms)
    explorer_ms, bare_ms = statistics.median(timings["explorer"]), statistics.median(timings["bare"])
    return {
        "explorer_change_ms_p50": explorer_ms,
        "bare_app_change_ms_p50": bare_ms,
        "explorer_over_bare": explorer_ms / bare_ms,
        "changes": changes,
        "explorer_change_ms": [round(ms, 1) for ms in timings["explorer"]],
        "bare_app_change_ms": [round(ms, 1) for ms in timings["bare"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--changes", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-cold", action="store_true", help="only the side-by-side latency")
    parser.add_argument("--cold-rounds", type=int, default=3, help="fresh servers per page (default 3)")
    parser.add_argument("--skip-changes", action="store_true", help="no side-by-side typing")
    parser.add_argument("--first-epoch", action="store_true",
                        help="also time Train to the first epoch on fresh servers (default settings; at once, "
                        "and after 15 s on the page)")  # fmt: skip
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = {"load_average_at_start": os.getloadavg()[0]}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            if not args.skip_cold:
                results.update(cold_start(browser, args.cold_rounds))
            if not args.skip_changes:
                results.update(latency(browser, args.changes))
            if args.first_epoch:
                for think_seconds in (0.0, 15.0):
                    results.update(first_training(browser, think_seconds))
        finally:
            browser.close()
    results["load_average_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            if isinstance(value, list):
                continue
            shown = f"{value:,.3g}" if isinstance(value, float) else str(value)
            print(f"{key:<36} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
