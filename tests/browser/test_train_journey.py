"""The "Train a classifier" page in a real browser: upload, train, stop, predict, download.

Set BERTVIZ_SCREENSHOT=1 to write docs/train.png (the page after training and a prediction).
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_TIMEOUT_MS = 240_000

POSITIVE = ["lovely", "great", "superb", "cheerful", "bright", "delightful", "solid", "charming"]
NEGATIVE = ["awful", "broken", "dull", "noisy", "flimsy", "gloomy", "clumsy", "dreadful"]
THINGS = ["kettle", "novel", "film", "lamp", "bicycle", "soup", "album", "jacket"]


def base_url_of(page) -> str:
    return "/".join(page.url.split("/")[:3])


def reviews_csv(rows: int = 400) -> bytes:
    """Two classes whose words do not overlap: a tiny model learns them in two epochs."""
    rng = random.Random(7)
    lines = ["comment;mood"]
    for index in range(rows):
        mood, words = ("good", POSITIVE) if index % 2 else ("bad", NEGATIVE)
        text = f"The {rng.choice(THINGS)} is {rng.choice(words)} and {rng.choice(words)}"
        lines.append(f"{text};{mood}")
    return ("\n".join(lines) + "\n").encode()


def open_train_page(page, wait_for_run) -> None:
    # Through the app's own navigation, as a visitor would get there.
    page.goto("/")
    wait_for_run(page)
    page.locator("[data-testid='stSidebarNav'] a", has_text="Train a classifier").click()
    page.get_by_role("heading", name="Train a classifier").wait_for()
    page.locator(".st-key-train_start").wait_for()
    wait_for_run(page)


def upload_csv(page, content: bytes, wait_for_run, finished_runs, name: str = "moods.csv") -> None:
    """Choose "My CSV file" and upload ``content``, each step waited for."""
    before = finished_runs(page)
    page.get_by_text("My CSV file").click()
    wait_for_run(page, after=before)
    before = finished_runs(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )
    wait_for_run(page, after=before)


def set_number(page, key: str, value: int, wait_for_run, finished_runs) -> None:
    before = finished_runs(page)
    field = page.locator(f".st-key-{key} input")
    field.fill(str(value))
    field.press("Enter")
    wait_for_run(page, after=before)


def make_tiny(page, wait_for_run, finished_runs, epochs: int) -> None:
    for key, value in (
        ("train_batch_size", 16),
        ("train_model_embed_dim", 32),
        ("train_model_ff_dim", 64),
        ("train_model_layers", 1),
        ("train_model_seq_len", 16),
        ("train_epochs", epochs),
    ):
        set_number(page, key, value, wait_for_run, finished_runs)


def test_upload_train_predict_and_download(page, wait_for_run, finished_runs, screenshot_dir, app_server_pid):
    open_train_page(page, wait_for_run)

    upload_csv(page, reviews_csv(), wait_for_run, finished_runs)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("400 rows read").wait_for()  # the upload itself precedes the run
    assert main.get_by_text("400 rows read").count() == 1
    assert main.get_by_text("Columns are separated by semicolons.").count() == 1
    assert page.locator("[data-testid='stAlertContentError']").count() == 0

    make_tiny(page, wait_for_run, finished_runs, epochs=2)
    page.locator(".st-key-train_start button").click()
    # The training is a job in a worker process; the page follows it and shows the results.
    confusion = page.locator(".st-key-train_per_class")
    confusion.wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_for_run(page)
    assert "Precision and recall per class" in confusion.inner_text()
    assert main.get_by_text("Validation accuracy", exact=True).count() == 1
    assert main.get_by_text("Majority baseline", exact=True).count() == 1

    before = finished_runs(page)
    field = page.locator(".st-key-train_predict_text input")
    field.fill("The lamp is lovely and charming")
    field.press("Enter")
    wait_for_run(page, after=before)
    assert main.get_by_text("Predicted class:").count() == 1
    page.locator(".st-key-train_probabilities").wait_for()

    with page.expect_download() as download_info:
        page.locator(".st-key-train_download_zip button").click()
    download = download_info.value
    assert download.suggested_filename == "bert_classifier.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        names = set(archive.namelist())
        assert {"model.h5", "vocab.txt", "labels.json"} <= names
        assert archive.read("vocab.txt").decode().splitlines()[:2] == ["[PAD]", "[UNK]"]

    if os.environ.get("BERTVIZ_SCREENSHOT") == "1":
        save_screenshot(page, REPO_ROOT / "docs" / "train.png")

    # A second browser is another visitor: none of the first one's file, model or results.
    other_context = page.context.browser.new_context(viewport=page.viewport_size, base_url=base_url_of(page))
    other = other_context.new_page()
    open_train_page(other, wait_for_run)
    other_main = other.locator("[data-testid='stMain']")
    assert other_main.get_by_text("400 rows read").count() == 0
    assert other.locator(".st-key-train_per_class").count() == 0
    assert other_main.get_by_role("heading", name="Results").count() == 0
    other_context.close()

    # The same browser, reloaded: its finished run comes back, results and all.
    page.reload()
    page.locator(".st-key-train_per_class").wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_for_run(page)
    # The results' metrics are drawn a moment after the rest of the run's elements now and then.
    main.get_by_text("Validation accuracy", exact=True).wait_for(timeout=30_000)
    assert main.get_by_text("Validation accuracy", exact=True).count() == 1
    assert "moods.csv" in main.inner_text()

    # Through upload, training, prediction and download, the server's own process never loaded
    # TensorFlow: every piece of it ran in worker processes (its libraries would be mapped here).
    maps = Path(f"/proc/{app_server_pid}/maps").read_text()
    assert "tensorflow" not in maps and "keras" not in maps


def test_leaving_the_page_mid_training_leaves_the_training_running(
    page, wait_for_run, finished_runs, wait_for_epochs
):
    """The run belongs to the visitor, not to the page: a look at the explorer does not stop it."""
    open_train_page(page, wait_for_run)
    # Long enough to be away from (a tiny model's epoch takes a second or two).
    make_tiny(page, wait_for_run, finished_runs, epochs=12)
    set_number(page, "train_patience", 12, wait_for_run, finished_runs)
    page.locator(".st-key-train_start button").click()
    wait_for_epochs(page, 1, TRAINING_TIMEOUT_MS)

    page.locator("[data-testid='stSidebarNav'] a", has_text="Model size explorer").click()
    page.get_by_role("heading", name="Model size explorer").wait_for()
    wait_for_run(page)
    page.wait_for_timeout(1500)  # a moment away: the training goes on meanwhile
    page.locator("[data-testid='stSidebarNav'] a", has_text="Train a classifier").click()
    page.get_by_role("heading", name="Train a classifier").wait_for()

    page.locator(".st-key-train_per_class").wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_for_run(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "Training was stopped after" not in main
    assert "Validation accuracy" in main


def test_a_prediction_during_a_training_uses_the_finished_model_and_the_training_goes_on(
    page, wait_for_run, finished_runs, wait_for_epochs
):
    open_train_page(page, wait_for_run)
    make_tiny(page, wait_for_run, finished_runs, epochs=2)
    page.locator(".st-key-train_start button").click()
    page.locator(".st-key-train_per_class").wait_for(timeout=TRAINING_TIMEOUT_MS)  # a finished run
    wait_for_run(page)

    # Long enough for a prediction to be answered meanwhile (a worker may have to start for it), however
    # fast the epochs go (a worker that kept this tiny model starts it at once): the test stops it.
    set_number(page, "train_epochs", 400, wait_for_run, finished_runs)
    set_number(page, "train_patience", 400, wait_for_run, finished_runs)
    page.locator(".st-key-train_start button").click()
    wait_for_epochs(page, 1, TRAINING_TIMEOUT_MS)
    field = page.locator(".st-key-train_predict_text input")
    field.fill("What a lovely and charming kettle")
    field.press("Enter")
    page.locator(".st-key-train_probabilities").wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_for_run(page)
    assert page.locator(".st-key-train_stop").count() == 1  # the new run is still training

    # It goes on after the answer: another epoch finishes (the prediction did not stop it). Then Stop
    # ends it with the epochs done so far.
    epoch = int(page.evaluate(
        "() => Number(document.querySelector(\"[data-testid='stMain']\").innerText"
        ".match(/Epoch (\\d+): validation accuracy/)[1])"
    ))  # fmt: skip
    wait_for_epochs(page, epoch + 1, TRAINING_TIMEOUT_MS)
    assert page.locator(".st-key-train_stop").count() == 1
    page.locator(".st-key-train_stop button").click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-train_stop') === null",
        polling=200,
        timeout=TRAINING_TIMEOUT_MS,
    )
    wait_for_run(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "Training was stopped after" in main
    # Both runs are there to pick from (the picker's key names the newest run).
    assert page.locator("[class*='st-key-train_run_choice_']").count() == 1


def save_screenshot(page, path: Path) -> None:
    """The results of a run, from the Training heading down, in one tall picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 2400})
    page.get_by_role("heading", name="Results").scroll_into_view_if_needed()
    page.locator("[data-testid='stMain']").evaluate(
        "main => { const top = document.querySelector('.st-key-train_start');"
        " main.scrollTop += top.getBoundingClientRect().top - 40; }"
    )
    page.wait_for_timeout(500)  # let plotly finish laying out after the resize
    page.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 0


pytestmark = pytest.mark.timeout(900)
