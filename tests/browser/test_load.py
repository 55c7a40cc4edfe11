"""Many visitors on one server at once, and visitors who stop, restart or leave mid-training.

One ``streamlit run`` server on the loopback interface (its own, so the figures are its own) and
one Chromium with a browser context per visitor. Playwright's sync API is not thread-safe, so
every page is driven from this thread by interleaving: start an action on each page, then wait
for each. A background thread samples only the server process (psutil): resident memory of it
and its children, CPU, and Streamlit's ``active_sessions`` gauge.

The figures go to stdout (``pytest -s``) and to ``/tmp/bertviz_load_report.json``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from bertviz_core.arithmetic.config import ModelConfig, training_default_config
from bertviz_core.arithmetic.params import total_params
from bertviz_core.arithmetic.training_memory import estimate_training_memory
from bertviz_core.fields import MODEL_FIELD

REPORT_PATH = Path("/tmp/bertviz_load_report.json")
# The memory budget the app runs with by default (BERTVIZ_MEMORY_BUDGET_MB): the whole process
# tree, server and workers, counted as the kernel counts it (shared library pages once: PSS).
TREE_BUDGET_MB = 2000
TRAINING_TIMEOUT_MS = 240_000

pytestmark = pytest.mark.timeout(600)


# --- the harness (tests/browser/conftest.py), reused rather than copied --------------------------


@pytest.fixture(scope="module")
def harness(request: pytest.FixtureRequest):
    """The browser folder's conftest module: serve_app, the run counter script, timeouts."""
    wanted = Path(__file__).with_name("conftest.py").resolve()
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", None) or "/").resolve() == wanted:
            return plugin
    raise RuntimeError("tests/browser/conftest.py is not loaded")


@dataclass
class Server:
    base_url: str
    port: int
    process: psutil.Process
    log_path: Path | None = None

    def print_log(self) -> None:
        """The end of the server's log, for the person reading a failure."""
        if self.log_path is not None and self.log_path.exists():
            print("\nThe server's log, its end:\n" + self.log_path.read_text(errors="replace")[-6000:])

    def active_sessions(self) -> int | None:
        """Streamlit's own gauge of sessions with an open websocket."""
        try:
            url = f"{self.base_url}/_stcore/metrics?families=active_sessions"
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        match = re.search(r"^active_sessions (\d+)", text, re.MULTILINE)
        return int(match.group(1)) if match else None


def _server_process(port: int) -> psutil.Process:
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        serves_port = "--server.port" in command and command[command.index("--server.port") + 1] == str(port)
        if "streamlit" in command and serves_port:
            return process
    raise RuntimeError(f"no streamlit process serves port {port}")


@pytest.fixture(scope="module")
def server(harness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("load") / "server.log"
    with harness.serve_app(log_path) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        yield Server(base_url, port, _server_process(port), log_path)


class ServerWatch:
    """Samples the server in a thread of its own (psutil and HTTP only, never Playwright)."""

    def __init__(self, server: Server, interval_s: float = 0.25) -> None:
        self.server = server
        self.interval_s = interval_s
        self.samples: list[dict] = []  # t, tree_mb, cpu_percent, sessions
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-watch", daemon=True)
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def tree_mb(self) -> float:
        """The server and its workers: proportional set size, so pages they share count once."""
        processes = [self.server.process, *self.server.process.children(recursive=True)]
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                total += process.memory_full_info().pss
        return total / 2**20

    def _run(self) -> None:
        self.server.process.cpu_percent(None)
        last_sessions_check = 0.0
        sessions = None
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            if now - last_sessions_check >= 1.0:
                sessions, last_sessions_check = self.server.active_sessions(), now
            sample = {
                "t": round(now - self._started, 2),
                "tree_mb": round(self.tree_mb(), 1),
                "cpu_percent": self.server.process.cpu_percent(None),
                "sessions": sessions,
            }
            with self._lock:
                self.samples.append(sample)

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def since(self, t: float) -> list[dict]:
        with self._lock:
            return [sample for sample in self.samples if sample["t"] >= t]

    def now(self) -> float:
        return round(time.monotonic() - self._started, 2)

    def peak(self, key: str, since: float = 0.0) -> float:
        return max((sample[key] or 0) for sample in self.since(since))


def write_report(section: str, figures: dict) -> None:
    report = json.loads(REPORT_PATH.read_text()) if REPORT_PATH.exists() else {}
    report[section] = figures
    REPORT_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n[{section}] " + json.dumps(figures, indent=2))


# --- visitors -------------------------------------------------------------------------------------

FINISHED_RUN_SELECTOR = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAIN_TEXT_INCLUDES = """texts => {
  const main = document.querySelector("[data-testid='stMain']");
  return main !== null && texts.every(text => main.innerText.includes(text));
}"""


@dataclass
class Visitor:
    """One browser context (one person) with one page."""

    page: object
    name: str
    timeout_ms: int
    console: list[str] = field(default_factory=list)  # the page's console and uncaught errors

    def until(self, condition_js: str, arg: object = None, timeout_ms: int | None = None) -> None:
        """Wait until the app is idle and ``condition_js(arg)`` holds, then fail on an exception.

        Waiting for an outcome rather than counting runs: a fast run can go from running to
        finished inside one React render, leaving nothing for a run counter to see.
        """
        try:
            self.page.wait_for_function(
                f"arg => document.querySelector({json.dumps(FINISHED_RUN_SELECTOR)}) !== null"
                f" && ({condition_js})(arg)",
                arg=arg,
                polling=200,
                timeout=timeout_ms or self.timeout_ms,
            )
        except Exception:
            self.save_evidence()
            raise
        exceptions = self.page.get_by_test_id("stException")
        if exceptions.count():
            raise AssertionError(f"{self.name} shows an exception:\n" + exceptions.first.inner_text())

    def until_text(self, *texts: str, timeout_ms: int | None = None) -> None:
        self.until(MAIN_TEXT_INCLUDES, list(texts), timeout_ms)

    def until_element(self, selector: str, timeout_ms: int | None = None) -> None:
        self.until("selector => document.querySelector(selector) !== null", selector, timeout_ms)

    def main_text(self) -> str:
        return self.page.locator("[data-testid='stMain']").inner_text()

    def save_evidence(self) -> None:
        """A screenshot, the HTML and the console of a page that failed a wait, for the person
        reading the failure."""
        path = Path("/tmp") / f"bertviz_load_{self.name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path), full_page=True)
            path.with_suffix(".html").write_text(self.page.content())
            print(
                f"\n{self.name}: screenshot and HTML of the failed wait in {path} and {path.with_suffix('.html')}"
            )
        print(f"{self.name}'s console (a line repeated at once is counted, not printed again):")
        previous, repeats = None, 0
        for line in self.console + [""]:
            message = line.split(" ", 1)[-1]
            if message == previous:
                repeats += 1
                continue
            if repeats:
                print(f"    ... {repeats} more times")
            if line:
                print(line)
            previous, repeats = message, 0

    def close(self) -> None:
        self.page.context.close()


def open_visitor(browser, harness, server: Server, name: str) -> Visitor:
    context = browser.new_context(viewport=harness.VIEWPORT, base_url=server.base_url)
    context.set_default_timeout(harness.RUN_TIMEOUT_MS)
    visitor = Visitor(context.new_page(), name, harness.RUN_TIMEOUT_MS)
    started = time.monotonic()
    stamp = lambda: f"{time.monotonic() - started:7.1f}s"  # noqa: E731
    visitor.page.on(
        "console", lambda message: visitor.console.append(f"{stamp()} {message.type}: {message.text}")
    )
    visitor.page.on("pageerror", lambda error: visitor.console.append(f"{stamp()} pageerror: {error}"))
    visitor.page.on("crash", lambda _: visitor.console.append(f"{stamp()} the page crashed"))
    return visitor


Step = tuple[Visitor, Callable[[], None], Callable[[], None]]  # who, the action, its awaited outcome


def together(steps: list[Step]) -> None:
    """Start every action, then wait for every outcome: the visitors' runs overlap on the server."""
    for _, action, _ in steps:
        action()
    for _, _, outcome in steps:
        outcome()


# --- explorers ------------------------------------------------------------------------------------

# Six shared links, and the keys each visitor then presses on the layer slider (one per round).
EXPLORER_VISITS = [
    (ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1), ["ArrowRight", "ArrowRight"]),
    (ModelConfig(layers=2, embed_dim=128, heads=2, ff_dim=512), ["End"]),
    (ModelConfig(encoder_only=True), ["Home", "ArrowRight"]),
    (ModelConfig(vocab=50257, layers=24, embed_dim=1024, heads=16, ff_dim=4096), ["ArrowLeft", "ArrowLeft"]),
    (ModelConfig(seq_len=128, pos_num=128, layers=4, embed_dim=256, heads=4, ff_dim=1024), ["ArrowRight"]),
    (ModelConfig(vocab=2000, layers=6, embed_dim=384, heads=6, ff_dim=1536), ["End", "Home"]),
]
LOWEST_LAYERS, HIGHEST_LAYERS = MODEL_FIELD["layers"].limits
KEY_EFFECTS = {
    "ArrowRight": lambda layers: min(layers + 1, HIGHEST_LAYERS),
    "ArrowLeft": lambda layers: max(layers - 1, LOWEST_LAYERS),
    "Home": lambda layers: LOWEST_LAYERS,
    "End": lambda layers: HIGHEST_LAYERS,
}
TOTAL_IS = """expected => {
  const metric = document.querySelector("[data-testid='stMetricValue']");
  return metric !== null && metric.innerText.trim() === expected;
}"""


def shown_total(visitor: Visitor) -> str:
    return visitor.page.get_by_test_id("stMetricValue").first.inner_text().strip()


def press_layer_key(visitor: Visitor, key: str) -> Callable[[], None]:
    def action() -> None:
        thumb = visitor.page.get_by_test_id("stSlider").filter(has_text="Layer count L").get_by_role("slider")
        thumb.focus()
        thumb.press(key)

    return action


def total_shows(visitor: Visitor, config: ModelConfig, timeout_ms: int | None = None) -> Callable[[], None]:
    return lambda: visitor.until(TOTAL_IS, f"{total_params(config):,}", timeout_ms)


# --- trainers -------------------------------------------------------------------------------------

# Markup in the texts: if any of it ran, it would set window.__pwned.
XSS_TAIL = ' <img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script>'
CSV_ROWS = 300


@dataclass(frozen=True)
class TrainingData:
    file_name: str
    classes: tuple[str, str]
    words: tuple[tuple[str, ...], tuple[str, ...]]
    things: tuple[str, ...]

    def csv_bytes(self) -> bytes:
        """Two classes told apart by their words: a tiny model learns them in two epochs."""
        rng = random.Random(self.file_name)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["text", "label"])
        for index in range(CSV_ROWS):
            side = index % 2
            words = self.words[side]
            text = f"The {rng.choice(self.things)} was {rng.choice(words)} and {rng.choice(words)}"
            writer.writerow([text + (XSS_TAIL if index % 7 == 0 else ""), self.classes[side]])
        return buffer.getvalue().encode()


TRAINING_DATA = [
    TrainingData(
        "weather_log.csv",
        ("sunny", "stormy"),
        (("bright", "warm", "clear", "calm", "golden"), ("thunder", "hail", "gusty", "flooded", "dark")),
        ("morning", "afternoon", "sky", "beach", "harbour"),
    ),
    TrainingData(
        "pet_notes.csv",
        ("feline", "canine"),
        (
            ("purring", "whiskered", "aloof", "meowing", "climbing"),
            ("barking", "fetching", "loyal", "wagging", "howling"),
        ),
        ("friend", "rescue", "puppy", "kitten", "companion"),
    ),
]
# The page's number boxes, by key; heads stay at the page's default (2), which divides these widths.
TINY_MODEL = {
    "train_batch_size": 16,
    "train_model_embed_dim": 32,
    "train_model_ff_dim": 64,
    "train_model_layers": 1,
    "train_model_seq_len": 16,
    "train_epochs": 2,
}
LONG_MODEL = {  # minutes of work on 2 cores if nothing stopped it
    "train_batch_size": 16,
    "train_model_embed_dim": 64,
    "train_model_ff_dim": 256,
    "train_model_layers": 2,
    "train_model_seq_len": 48,
    "train_patience": 100,
    "train_epochs": 100,
}


def sizing_caption(settings: dict[str, int]) -> list[str]:
    """What the page's training caption says for these settings (two classes, default vocabulary)."""
    values = training_default_config().to_dict()
    values.update({key.removeprefix("train_model_"): value for key, value in settings.items()})
    config = ModelConfig(
        pos_num=values["seq_len"],
        encoder_only=True,
        **{key: values[key] for key in ("vocab", "seq_len", "embed_dim", "heads", "layers", "ff_dim")},
    )
    batch = settings.get("train_batch_size", 32)
    need = estimate_training_memory(config, 2, batch)
    return [
        f"{need.parameters:,} parameters, every layer trained",
        f"training needs about {need.total_mb:,} MB",
    ]  # bertviz_ui.training_run.section's caption


def single_box(visitor: Visitor, key: str):
    """The number box of ``key``, once the page holds exactly one (a rerun can briefly keep the
    previous run's copy on the page beside the new one)."""
    selector = f".st-key-{key} input"
    visitor.page.wait_for_function(
        "selector => document.querySelectorAll(selector).length === 1", arg=selector, polling=200
    )
    return visitor.page.locator(selector)


def configure(visitors: list[Visitor], settings: dict[str, int]) -> None:
    """Type every number on every page, then wait until each page's caption shows the new model."""

    def type_all(visitor: Visitor) -> None:
        try:
            for key, value in settings.items():
                box = single_box(visitor, key)
                box.fill(str(value))
                box.press("Enter")
        except Exception:
            visitor.save_evidence()
            raise

    together(
        [(v, lambda v=v: type_all(v), lambda v=v: v.until_text(*sizing_caption(settings))) for v in visitors]
    )
    for visitor in visitors:
        for key, value in settings.items():
            assert single_box(visitor, key).input_value() == str(value), (
                visitor.name,
                key,
            )


def open_training_page(visitors: list[Visitor]) -> None:
    for visitor in visitors:
        visitor.page.goto("/")
    for visitor in visitors:
        visitor.until_element("[data-testid='stMetricValue']")  # the explorer, the default page
    together(
        [
            (
                v,
                lambda v=v: v.page.locator(
                    "[data-testid='stSidebarNav'] a", has_text="Train a classifier"
                ).click(),
                lambda v=v: v.until_element(".st-key-train_start"),
            )
            for v in visitors
        ]
    )


def upload(visitors_and_data: list[tuple[Visitor, TrainingData]]) -> None:
    uploader = "[data-testid='stFileUploaderDropzoneInput']"
    together(
        [
            (v, lambda v=v: v.page.get_by_text("My CSV file").click(), lambda v=v: v.until_element(uploader))
            for v, _ in visitors_and_data
        ]
    )
    together(
        [
            (
                v,
                lambda v=v, d=d: v.page.locator(uploader).set_input_files(
                    files=[{"name": d.file_name, "mimeType": "text/csv", "buffer": d.csv_bytes()}]
                ),
                lambda v=v: v.until_text(f"{CSV_ROWS} rows read", "3. Training"),
            )
            for v, d in visitors_and_data
        ]
    )
    for visitor, _ in visitors_and_data:
        assert visitor.page.locator("[data-testid='stAlertContentError']").count() == 0, visitor.name


def click_train(visitor: Visitor) -> Callable[[], None]:
    return lambda: visitor.page.locator(".st-key-train_start button").click()


# --- the load test --------------------------------------------------------------------------------


def test_six_explorers_and_two_trainers_at_once(browser, harness, server: Server) -> None:
    try:
        _six_explorers_and_two_trainers(browser, harness, server)
    except Exception:
        server.print_log()
        raise


def _six_explorers_and_two_trainers(browser, harness, server: Server) -> None:
    started = time.monotonic()
    with ServerWatch(server, interval_s=0.5) as watch, contextlib.ExitStack() as cleanup:
        rss_at_start = watch.tree_mb()
        explorers = [
            open_visitor(browser, harness, server, f"explorer-{i}") for i in range(len(EXPLORER_VISITS))
        ]
        trainers = [open_visitor(browser, harness, server, f"trainer-{i}") for i in range(len(TRAINING_DATA))]
        for visitor in explorers + trainers:
            cleanup.callback(visitor.close)

        # Everyone arrives: explorers through their shared links, trainers through the navigation.
        for visitor, (config, _) in zip(explorers, EXPLORER_VISITS, strict=True):
            query = config.to_query_params()
            visitor.page.goto("/" + ("?" + urlencode(query) if query else ""))
        for visitor, (config, _) in zip(explorers, EXPLORER_VISITS, strict=True):
            total_shows(visitor, config)()
        open_training_page(trainers)
        upload(list(zip(trainers, TRAINING_DATA, strict=True)))
        configure(trainers, TINY_MODEL)

        # Both trainings start; while they run, every explorer moves its layer slider.
        training_clicked_at = watch.now()
        for visitor in trainers:
            click_train(visitor)()
        configs = [config for config, _ in EXPLORER_VISITS]
        for round_index in range(max(len(keys) for _, keys in EXPLORER_VISITS)):
            steps = []
            for position, (visitor, (_, keys)) in enumerate(zip(explorers, EXPLORER_VISITS, strict=True)):
                if round_index < len(keys):
                    key = keys[round_index]
                    configs[position] = configs[position].with_changes(
                        layers=KEY_EFFECTS[key](configs[position].layers)
                    )
                    steps.append(
                        (visitor, press_layer_key(visitor, key), total_shows(visitor, configs[position]))
                    )
            together(steps)
        for visitor, config in zip(explorers, configs, strict=True):
            in_link = re.search(rf"[?&]layers={config.layers}(&|$)", visitor.page.url)
            assert in_link or config.layers == ModelConfig().layers, (visitor.name, visitor.page.url)
        explorers_done_s = time.monotonic() - started

        for visitor in trainers:
            visitor.until_element(".st-key-train_per_class", timeout_ms=TRAINING_TIMEOUT_MS)
        training_s = watch.now() - training_clicked_at

        # Each trainer sees its own classes and file, never the other's.
        for visitor, dataset in zip(trainers, TRAINING_DATA, strict=True):
            matrix = visitor.page.locator(".st-key-train_per_class").inner_text()
            page_text = visitor.main_text()
            for name in dataset.classes:
                assert name in matrix, (visitor.name, name, matrix)
            assert dataset.file_name in page_text, visitor.name
            for other in TRAINING_DATA:
                if other is not dataset:
                    for name in other.classes:
                        assert name not in matrix and name not in page_text, (visitor.name, name)
                    assert other.file_name not in page_text, visitor.name

        # Nobody's state moved: explorers still show their own totals; no page ran the markup.
        for visitor, config in zip(explorers, configs, strict=True):
            assert shown_total(visitor) == f"{total_params(config):,}", visitor.name
        for visitor in explorers + trainers:
            assert visitor.page.get_by_test_id("stException").count() == 0, visitor.name
            assert visitor.page.evaluate("window.__pwned === undefined"), visitor.name
        sessions_now = server.active_sessions()
        elapsed_s = time.monotonic() - started
        figures = {
            "visitors": len(explorers) + len(trainers),
            "explorers": len(explorers),
            "trainers": len(trainers),
            "active_sessions_peak": int(watch.peak("sessions")),
            "active_sessions_at_end": sessions_now,
            "seconds_total": round(elapsed_s, 1),
            "seconds_until_explorers_checked": round(explorers_done_s, 1),
            "seconds_training_both": round(training_s, 1),
            "tree_mb_at_start": round(rss_at_start, 1),
            "tree_mb_peak": round(watch.peak("tree_mb"), 1),
            "server_cpu_percent_peak": round(watch.peak("cpu_percent"), 1),
        }
    write_report("load", figures)
    assert figures["active_sessions_peak"] >= len(explorers) + len(trainers), figures
    assert figures["tree_mb_peak"] < TREE_BUDGET_MB, figures


# --- leaving mid-training, stopping and starting again --------------------------------------------


def worker_processes(server: Server) -> list[psutil.Process]:
    """The job pool's worker processes: the server's children running ``bertviz_core.jobs.worker``."""
    found = []
    for child in server.process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "bertviz_core.jobs.worker" in " ".join(child.cmdline()):
                found.append(child)
    return found


def until_true(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def test_closing_the_tab_mid_training_stops_the_training(browser, harness, tmp_path: Path) -> None:
    """Outcomes, not CPU percentages: the job ends as stopped, its worker exits, the memory comes back."""
    jobs_log = tmp_path / "jobs.jsonl"
    environment = {"BERTVIZ_JOBS_LOG": str(jobs_log), "BERTVIZ_WORKER_IDLE_SECONDS": "3"}
    with harness.serve_app(tmp_path / "server.log", env=environment) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        server = Server(base_url, port, _server_process(port))
        with ServerWatch(server, interval_s=0.5) as watch:
            rss_idle_server = watch.tree_mb()
            visitor = open_visitor(browser, harness, server, "leaver")
            try:
                open_training_page([visitor])
                configure([visitor], LONG_MODEL)
                sessions_before = server.active_sessions()
                click_train(visitor)()
                harness.wait_for_epochs(visitor.page, 1, TRAINING_TIMEOUT_MS)
                assert visitor.page.locator(".st-key-train_stop").count() == 1  # still training
                rss_training = watch.tree_mb()
                workers_training = len(worker_processes(server))
            finally:
                closed_at = time.monotonic()
                visitor.close()

            def training_ended() -> bool:
                return any(
                    line["event"] == "finished" and line["kind"] == "train"
                    for line in harness.read_jobs_log(jobs_log)
                )

            assert until_true(training_ended, 60), harness.read_jobs_log(jobs_log)
            ended_after_s = round(time.monotonic() - closed_at, 1)
            finished = next(
                line
                for line in harness.read_jobs_log(jobs_log)
                if line["event"] == "finished" and line["kind"] == "train"
            )
            assert until_true(lambda: not worker_processes(server), 60), "a worker stayed after the job ended"
            workers_gone_after_s = round(time.monotonic() - closed_at, 1)
            rss_after = watch.tree_mb()
            sessions_after = server.active_sessions()
    figures = {
        "tree_mb_idle": round(rss_idle_server, 1),
        "tree_mb_training": round(rss_training, 1),
        "workers_while_training": workers_training,
        "seconds_until_job_ended_after_close": ended_after_s,
        "job_outcome": {key: finished[key] for key in ("state", "stopped", "seconds")},
        "seconds_until_workers_gone_after_close": workers_gone_after_s,
        "tree_mb_after": round(rss_after, 1),
        "active_sessions_before_close": sessions_before,
        "active_sessions_after_close": sessions_after,
    }
    write_report("closed_tab", figures)
    # One worker trains; the page's once-per-server rate measurement may still hold a second.
    assert 1 <= workers_training <= 2 and rss_training > rss_idle_server + 300, (
        figures
    )  # TensorFlow was in a worker
    assert finished["state"] == "done" and finished["stopped"], figures  # stopped, keeping its best epoch
    assert rss_after < rss_idle_server + 200, figures  # the memory came back
    assert sessions_before is not None and sessions_after == sessions_before - 1, figures


def test_stop_then_train_again_in_one_session(browser, harness, server: Server) -> None:
    visitor = open_visitor(browser, harness, server, "restarter")
    try:
        open_training_page([visitor])
        configure([visitor], {**TINY_MODEL, "train_patience": 100, "train_epochs": 100})
        click_train(visitor)()
        harness.wait_for_epochs(visitor.page, 2, TRAINING_TIMEOUT_MS)
        visitor.page.locator(".st-key-train_stop button").click()
        stopped = visitor.until_text("Training was stopped after", timeout_ms=TRAINING_TIMEOUT_MS)
        assert visitor.page.locator(".st-key-train_per_class").count() == 1
        # The run keeps what it had: its complete epochs, and the best of them.
        complete = int(re.search(r"stopped after (\d+) complete", visitor.main_text()).group(1))
        assert 2 <= complete < 100 and "(the best validation accuracy) is kept" in visitor.main_text(), (
            stopped
        )

        configure([visitor], {**TINY_MODEL, "train_patience": 100})  # back to 2 epochs
        click_train(visitor)()
        # The new run's results replace the stopped run's (which said it was stopped).
        visitor.until(
            """() => {
              const main = document.querySelector("[data-testid='stMain']");
              return !main.innerText.includes("Training was stopped after")
                && document.querySelector(".st-key-train_stop") === null
                && document.querySelector(".st-key-train_per_class") !== null;
            }""",
            timeout_ms=TRAINING_TIMEOUT_MS,
        )
        assert visitor.page.locator(".st-key-train_per_class").count() == 1
    finally:
        visitor.close()
