"""A workshop on one server: K visitors press Train at once while another moves the explorer's controls.

Usage, from the repository root (needs the test requirements and Debian's chromium, as the browser
tests do: ``bash scripts/install-tests.sh``)::

    python -m benchmarks.room                  # K = 4, 8 and 16
    python -m benchmarks.room --rooms 4 --json

For each K it starts a fresh ``streamlit run app.py`` (with the job log on), opens K browser
contexts on the training page with the shipped reviews sample and default settings, clicks Train in
all of them within half a second, and meanwhile has one more visitor change the explorer's
vocabulary again and again. It reports: whether every session got its result, the seconds from
Train to each result, each job's wait in the queue (from the job log), the explorer's time from a
changed number to the new total on screen (p50/p95, during the room's training against the same
server idle, measured just before), the peak memory of the server's whole process tree (resident,
and proportional: shared pages counted once), and that memory 30 s after the last tab closed and
again at 150 s, once Streamlit has let go of the closed tabs' sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

# The browser tests' Chromium and server helpers: the room is driven exactly as they drive the app.
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, read_jobs_log, serve_app

TRAINING_TIMEOUT_S = 3600
AFTER_CLOSE_S = 30
# Streamlit keeps a closed tab's session for server.disconnectedSessionTTL (120 s) in case it
# reconnects; a second reading after that tells the sessions' memory from the server's own.
AFTER_SESSIONS_S = 150
VIEWPORT = {"width": 1280, "height": 900}
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


class TreeMemory:
    """The server process and all its children, sampled in a thread: resident and proportional MB."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_rss = self.peak_pss = 0.0
        self.server_cpu: list[float] = []  # the web server's own process, per interval (not its workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[float, float]:
        rss = pss = 0.0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                rss += info.rss / 2**20
                pss += info.pss / 2**20
        return rss, pss

    def _run(self) -> None:
        self.process.cpu_percent(None)
        while not self._stop.wait(self.interval_s):
            rss, pss = self.sample()
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            with contextlib.suppress(psutil.Error):
                self.server_cpu.append(self.process.cpu_percent(None))

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(5)


def server_pid(base_url: str) -> int:
    port = base_url.rsplit(":", 1)[1]
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if (
            "streamlit" in command
            and "--server.port" in command
            and command[command.index("--server.port") + 1] == port
        ):
            return process.pid
    raise RuntimeError(f"no server on port {port}")


def explorer_change_ms(page, value: int) -> float:
    """Type a vocabulary size into the explorer's exact box; milliseconds until the new total shows."""
    before = page.get_by_test_id("stMetricValue").first.inner_text()
    box = page.locator(".st-key-explorer_vocab_exact input")
    started = time.perf_counter()
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_function(
        "before => { const m = document.querySelector(\"[data-testid='stMetricValue']\");"
        " return m && m.innerText !== before; }",
        arg=before,
        polling=50,  # a timer: animation frames are throttled in a page Chromium thinks is hidden
        timeout=120_000,
    )
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def open_trainer(browser, base_url: str):
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.set_default_timeout(180_000)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector(IDLE, state="attached")
    page.locator("[data-testid='stSidebarNav'] a", has_text="Train a classifier").click()
    page.locator(".st-key-train_start").wait_for()
    page.wait_for_selector(IDLE, state="attached")
    return context, page


def launch(playwright, background: bool = False):
    """Debian's Chromium, headless; with ``background``, its processes (and the renderers they fork
    later, which inherit it) run under SCHED_IDLE, as the workers do.

    The trainers' browser runs in the background: in a workshop each visitor's browser is on their
    own machine, while here every page is drawn on the server's two cores, and drawing the room's
    pages is not the server's work. The explorer's browser runs at the server's own priority, so its
    timings include the drawing of one page, as a visitor's would."""
    before = {process.pid for process in psutil.process_iter()}
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    if background:
        for process in psutil.process_iter(["name"]):
            if process.pid not in before and "chrom" in (process.info["name"] or ""):
                with contextlib.suppress(psutil.Error):
                    for thread in process.threads():  # Linux schedules threads, each its own policy
                        with contextlib.suppress(OSError):
                            os.sched_setscheduler(thread.id, os.SCHED_IDLE, os.sched_param(0))
    return browser


def run_room(browser, rooms: int, folder: Path, probes: int, trainer_browser=None) -> dict:
    jobs_log = folder / f"jobs-{rooms}.jsonl"
    environment = {"BERTVIZ_JOBS_LOG": str(jobs_log)}
    with serve_app(folder / f"server-{rooms}.log", env=environment) as base_url:
        pid = server_pid(base_url)
        with TreeMemory(pid) as memory:
            idle_rss, idle_pss = memory.sample()
            explorer_context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
            explorer = explorer_context.new_page()
            explorer.goto("/")
            explorer.wait_for_selector(IDLE, state="attached")
            explorer.get_by_test_id("stMetricValue").first.wait_for()
            sizes = [1000 + 37 * step for step in range(2 * probes + 2)]
            explorer_change_ms(explorer, 999)  # the first change also loads the page's scripts: not measured
            idle_ms = [explorer_change_ms(explorer, sizes[step]) for step in range(probes)]

            trainers = [open_trainer(trainer_browser or browser, base_url) for _ in range(rooms)]
            cpu_from = len(memory.server_cpu)
            clicked = {}
            for index, (_, page) in enumerate(trainers):
                page.locator(".st-key-train_start button").click()
                clicked[index] = time.monotonic()
            busy_ms, results = [], {}
            step = probes
            deadline = time.monotonic() + TRAINING_TIMEOUT_S
            while len(results) < rooms and time.monotonic() < deadline:
                if step < len(sizes):
                    busy_ms.append(explorer_change_ms(explorer, sizes[step]))
                    step += 1
                else:
                    time.sleep(1)
                for index, (_, page) in enumerate(trainers):
                    if index not in results and page.locator(".st-key-train_per_class").count():
                        results[index] = round(time.monotonic() - clicked[index], 1)
                if step >= len(sizes) and len(results) < rooms:
                    sizes.append(sizes[-1] + 37)  # keep the explorer busy while the room trains
            peak_rss, peak_pss = memory.peak_rss, memory.peak_pss
            server_cpu = memory.server_cpu[cpu_from:]
            for context, _ in trainers:
                context.close()
            explorer_context.close()
            closed_at = time.monotonic()
            time.sleep(AFTER_CLOSE_S)
            after_rss, after_pss = memory.sample()
            seconds_after_close = round(time.monotonic() - closed_at)
            time.sleep(max(0.0, AFTER_SESSIONS_S - (time.monotonic() - closed_at)))
            later_rss, later_pss = memory.sample()
            seconds_later = round(time.monotonic() - closed_at)
    events = read_jobs_log(jobs_log)
    queued = {
        line["job"]: line["time"] for line in events if line["event"] == "queued" and line["kind"] == "train"
    }
    started = {
        line["job"]: line["time"] for line in events if line["event"] == "started" and line["kind"] == "train"
    }
    waits = sorted(round(started[job] - queued[job], 1) for job in started if job in queued)
    return {
        "visitors_training": rooms,
        "every_session_finished": len(results) == rooms,
        "seconds_to_each_result": sorted(results.values()),
        "queue_wait_seconds": waits,
        "explorer_ms_idle_p50": round(statistics.median(idle_ms)),
        "explorer_ms_idle_p95": round(percentile(idle_ms, 0.95)),
        "explorer_ms_during_p50": round(statistics.median(busy_ms)) if busy_ms else None,
        "explorer_ms_during_p95": round(percentile(busy_ms, 0.95)) if busy_ms else None,
        "explorer_p95_during_over_idle": round(percentile(busy_ms, 0.95) / percentile(idle_ms, 0.95), 2)
        if busy_ms
        else None,
        "server_process_cpu_percent_during_mean": round(statistics.mean(server_cpu), 1)
        if server_cpu
        else None,
        "tree_mb_idle_rss": round(idle_rss),
        "tree_mb_idle_pss": round(idle_pss),
        "tree_mb_peak_rss": round(peak_rss),
        "tree_mb_peak_pss": round(peak_pss),
        f"tree_mb_{seconds_after_close}_s_after_close_rss": round(after_rss),
        f"tree_mb_{seconds_after_close}_s_after_close_pss": round(after_pss),
        f"tree_mb_{seconds_later}_s_after_close_rss": round(later_rss),
        f"tree_mb_{seconds_later}_s_after_close_pss": round(later_pss),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.room", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, nargs="+", default=[4, 8, 16], help="trainings at once, per run")
    parser.add_argument("--probes", type=int, default=10, help="explorer changes measured while idle")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run bash scripts/install-tests.sh first.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    report = {}
    with tempfile.TemporaryDirectory(prefix="bertviz-room-") as folder, sync_playwright() as playwright:
        browser, trainer_browser = launch(playwright), launch(playwright, background=True)
        try:
            for rooms in args.rooms:
                report[f"K={rooms}"] = run_room(browser, rooms, Path(folder), args.probes, trainer_browser)
                if not args.json:
                    print(f"K={rooms}: " + json.dumps(report[f"K={rooms}"], indent=2), flush=True)
        finally:
            browser.close()
            trainer_browser.close()
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
