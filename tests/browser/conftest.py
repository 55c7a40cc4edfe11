"""The real app in a real browser: a Streamlit server for the session, Chromium driven by Playwright.

Fixtures:
- ``app_url``: base URL of ``streamlit run app.py`` started once for the whole session.
- ``browser``: Debian's Chromium (``/usr/bin/chromium``), launched once for the session.
- ``page``: a fresh browser context and page per test.
- ``wait_for_run``: ``wait_for_run(page)`` blocks until Streamlit's script run has finished and
  fails if the page shows an exception. After an interaction, pass the count taken before it:
  ``before = finished_runs(page); click(); wait_for_run(page, after=before)``.
- ``finished_runs``: ``finished_runs(page)`` counts the runs finished since the page loaded.
- ``wait_for_epochs``: ``wait_for_epochs(page, 2, timeout_ms)`` blocks until training has finished
  at least two epochs.

Every test in this folder is marked ``slow``. Without Chromium the tests are skipped, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps trying to reach Google's services, which this
# machine's closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1280, "height": 900}

FINISHED_RUN_SELECTOR = "[data-testid='stApp'][data-test-script-state='notRunning']"
EXCEPTION_SELECTOR = "[data-testid='stException']"

# Counts the moments the app's script state becomes notRunning, so a test can wait for the run
# that its own click started rather than mistake the previous, already finished run for it.
COUNT_FINISHED_RUNS_JS = """
(() => {
  window.__finishedRuns = 0;
  const attribute = "data-test-script-state";
  new MutationObserver((records) => {
    // Each record holds the value before its change; the value after it is the next record's
    // old value for the same element, or the element's current value for the last record.
    records.forEach((record, index) => {
      const later = records.slice(index + 1).find((other) => other.target === record.target);
      const newValue = later ? later.oldValue : record.target.getAttribute(attribute);
      if (record.target.dataset.testid === "stApp" && newValue === "notRunning") {
        window.__finishedRuns += 1;
      }
    });
  }).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                        attributeFilter: [attribute]});
})();
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    browser_folder = Path(__file__).resolve().parent
    for item in items:
        if browser_folder in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.slow)


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health_is_ok(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop_process_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # The server was started in its own session, so its group holds it and anything it spawned.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def serve_app(log_path: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``streamlit run app.py`` from the repository root on a free port; yield its base URL.

    ``env`` adds environment variables for this server (the job pool's settings, for example)."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log_path.with_suffix(".pid").write_text(str(process.pid))  # for tests that look at the server process
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _health_is_ok(base_url):
            if process.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {process.returncode} before it served the app:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not answer {base_url}/_stcore/health within "
                    f"{SERVER_START_TIMEOUT_S} s:\n" + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.25)
        yield base_url
    finally:
        _stop_process_group(process)


JOBS_LOG = "jobs.jsonl"


@pytest.fixture(scope="session")
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's app server writes its log and its job log (``read_jobs_log``)."""
    return tmp_path_factory.mktemp("streamlit")


@pytest.fixture(scope="session")
def app_url(app_folder: Path) -> Iterator[str]:
    """One app server for the whole browser-test session, with the app's own pool settings (idle
    workers leave after 20 s): a training a few steps after another finds its worker warm, as a
    visitor's would. (At 5 s nearly every training of the suite paid TensorFlow's import again.)
    Its memory budget is Community Cloud's largest, 2.7 GB: by the later tests the server holds about
    1 GB of sessions, and at the 2 GB default a prediction asked during a training waited for the
    training to end (the test of exactly that case saw it)."""
    environment = {"BERTVIZ_JOBS_LOG": str(app_folder / JOBS_LOG), "BERTVIZ_MEMORY_BUDGET_MB": "2700"}
    with serve_app(app_folder / "server.log", env=environment) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def app_server_pid(app_url: str, app_folder: Path) -> int:
    """The process id of the session's app server (``streamlit run``)."""
    return int((app_folder / "server.pid").read_text())


def read_jobs_log(path: Path) -> list[dict]:
    """The job pool's events so far (one JSON object per line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, shared by every browser test of the session."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `bash scripts/install-tests.sh` to install Debian's chromium"
        if _running_in_ci():
            pytest.fail(reason + " (CI=true, so browser tests may not be skipped)")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is missing: run `bash scripts/install-tests.sh`"
        if _running_in_ci():
            pytest.fail(reason)
        pytest.skip(reason)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def _page_in_new_context(browser, base_url: str) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.set_default_timeout(RUN_TIMEOUT_MS)
    context.add_init_script(COUNT_FINISHED_RUNS_JS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser, app_url: str) -> Iterator[object]:
    """A fresh page in its own context (no shared cookies or storage between tests)."""
    with _page_in_new_context(browser, app_url) as browser_page:
        yield browser_page


@pytest.fixture
def another_page(browser, app_url: str) -> Iterator[object]:
    """A second visitor of the same server, in a context of its own."""
    with _page_in_new_context(browser, app_url) as browser_page:
        yield browser_page


def _finished_runs(page) -> int:
    return int(page.evaluate("window.__finishedRuns || 0"))


# A run so short that React renders "running" and "notRunning" in one batch leaves no mutation for
# the counter to see. So a wait also ends once the app has been idle this long after it began:
# a rerun starts within milliseconds of the interaction, long before this.
MISSED_RUN_GRACE_MS = 3000
RUN_FINISHED_OR_IDLE_JS = f"""({{count, since}}) =>
  (window.__finishedRuns || 0) > count
  || (Date.now() - since > {MISSED_RUN_GRACE_MS} && document.querySelector("{FINISHED_RUN_SELECTOR}") !== null)
"""


def _wait_for_run(page, *, after: int = 0, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until more than ``after`` script runs have finished and the app is idle, then fail if
    the page shows a Streamlit exception."""
    # Poll on a timer: the default (animation frames) stalls in a tab Chromium treats as hidden.
    since = page.evaluate("Date.now()")
    page.wait_for_function(
        RUN_FINISHED_OR_IDLE_JS, arg={"count": after, "since": since}, timeout=timeout_ms, polling=200
    )
    page.wait_for_selector(FINISHED_RUN_SELECTOR, state="attached", timeout=timeout_ms)
    exceptions = page.locator(EXCEPTION_SELECTOR)
    if exceptions.count():
        raise AssertionError("The app shows an exception:\n" + exceptions.first.inner_text())


EPOCHS_DONE_JS = """at_least => {
  const main = document.querySelector("[data-testid='stMain']");
  const match = main && main.innerText.match(/Epoch (\\d+): validation accuracy/);
  return Boolean(match) && Number(match[1]) >= at_least;
}"""


def wait_for_epochs(page, at_least: int, timeout_ms: int) -> None:
    """Wait until the live caption reports epoch ``at_least`` or a later one.

    The caption names only the last finished epoch, so waiting for one exact epoch can miss it
    when epochs are short; and it polls on a timer, as a hidden tab may not paint frames.
    """
    page.wait_for_function(EPOCHS_DONE_JS, arg=at_least, timeout=timeout_ms, polling=200)


@pytest.fixture
def wait_for_run() -> Callable[..., None]:
    return _wait_for_run


@pytest.fixture
def finished_runs() -> Callable[..., int]:
    return _finished_runs


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where a test saves screenshots; set BERTVIZ_SCREENSHOT_DIR to keep them after the run."""
    kept = os.environ.get("BERTVIZ_SCREENSHOT_DIR")
    if kept:
        folder = Path(kept)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path


@pytest.fixture
def fresh_app_page(browser, tmp_path: Path) -> Iterator[object]:
    """A page on a server of its own, started for this test: nothing has run in it yet."""
    with (
        serve_app(tmp_path / "server.log") as base_url,
        _page_in_new_context(browser, base_url) as browser_page,
    ):
        yield browser_page


@pytest.fixture(name="wait_for_epochs")
def wait_for_epochs_fixture() -> Callable[..., None]:
    return wait_for_epochs
