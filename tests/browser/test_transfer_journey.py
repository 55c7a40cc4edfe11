"""Transfer learning in a real browser: upload a BERT checkpoint zip in Google's layout and
fine-tune it; pretrain a model on the sample's texts and fine-tune that; compare with a new model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from tests.browser.test_train_journey import TRAINING_TIMEOUT_MS, make_tiny, open_train_page, set_number
from tests.model.checkpoints import write_google_checkpoint, zipped

SMALL = ModelConfig(vocab=64, seq_len=64, pos_num=64, embed_dim=16, heads=2, layers=1, ff_dim=32)


def choose(page, label: str, wait_for_run, finished_runs) -> None:
    before = finished_runs(page)
    page.locator(".st-key-train_start_from").get_by_text(label).click()
    wait_for_run(page, after=before)


def train_and_wait(page, wait_for_run) -> None:
    count = page.locator(".st-key-train_per_class").count()
    page.locator(".st-key-train_start button").click()
    page.locator(".st-key-train_stop").wait_for(timeout=60_000)
    page.locator(".st-key-train_stop").wait_for(state="detached", timeout=TRAINING_TIMEOUT_MS)
    page.locator(".st-key-train_per_class").wait_for(timeout=60_000)
    wait_for_run(page)
    assert page.locator(".st-key-train_per_class").count() >= count


def test_fine_tune_an_uploaded_checkpoint_then_compare_with_a_new_model(
    page, wait_for_run, finished_runs, tmp_path, screenshot_dir
):
    payload = zipped(write_google_checkpoint(tmp_path / "uncased_L-1_H-16_A-2", SMALL))
    open_train_page(page, wait_for_run)
    main = page.locator("[data-testid='stMain']")
    choose(page, "A pretrained checkpoint", wait_for_run, finished_runs)
    main.get_by_text("github.com/google-research/bert").first.wait_for()

    before = finished_runs(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").last.set_input_files(
        files=[{"name": "uncased_L-1_H-16_A-2.zip", "mimeType": "application/zip", "buffer": payload}]
    )
    wait_for_run(page, after=before)
    main.get_by_text("fixed by its configuration").wait_for(timeout=30_000)
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    set_number(page, "train_checkpoint_seq_len_64", 16, wait_for_run, finished_runs)
    set_number(page, "train_epochs", 1, wait_for_run, finished_runs)
    train_and_wait(page, wait_for_run)
    main.get_by_text("from the checkpoint uncased_L-1_H-16_A-2").wait_for(timeout=30_000)

    # A prediction and the download work on the fine-tuned model as on any other.
    before = finished_runs(page)
    field = page.locator(".st-key-train_predict_text input")
    field.fill("a great film")
    field.press("Enter")
    wait_for_run(page, after=before)
    page.locator(".st-key-train_probabilities").wait_for(timeout=60_000)
    with page.expect_download() as download_info:
        page.locator(".st-key-train_download_zip button").click()
    with zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes())) as archive:
        assert archive.read("vocab.txt").decode().splitlines()[:3] == ["[PAD]", "[unused0]", "[unused1]"]

    # A new model beside it: one table, one chart of both.
    choose(page, "A new model (from scratch)", wait_for_run, finished_runs)
    make_tiny(page, wait_for_run, finished_runs, epochs=1)
    train_and_wait(page, wait_for_run)
    compare = page.locator(".st-key-train_compare_chart")
    compare.wait_for(timeout=30_000)
    assert "Validation accuracy" in compare.inner_text()
    page.screenshot(path=str(screenshot_dir / "transfer_compare.png"))


def test_pretrain_on_the_samples_texts_then_fine_tune_from_it(page, wait_for_run, finished_runs):
    open_train_page(page, wait_for_run)
    main = page.locator("[data-testid='stMain']")
    make_tiny(page, wait_for_run, finished_runs, epochs=1)
    before = finished_runs(page)
    main.get_by_text("Pretrain this model on your texts first").click()
    wait_for_run(page, after=before)
    set_number(page, "pretrain_epochs", 1, wait_for_run, finished_runs)
    page.locator(".st-key-pretrain_start button").click()
    page.locator(".st-key-pretrain_stop").wait_for(timeout=60_000)
    page.locator(".st-key-pretrain_stop").wait_for(state="detached", timeout=TRAINING_TIMEOUT_MS)
    main.get_by_text("of masked words").wait_for(timeout=60_000)
    wait_for_run(page)
    with page.expect_download() as download_info:
        page.locator(".st-key-pretrain_download button").click()
    with zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes())) as archive:
        assert "pretrained_L-1_H-32_A-2/bert_config.json" in archive.namelist()

    choose(page, "A pretrained checkpoint", wait_for_run, finished_runs)
    main.get_by_text("fixed by its configuration").wait_for(timeout=30_000)
    train_and_wait(page, wait_for_run)
    main.get_by_text("from the checkpoint pretrained_L-1_H-32_A-2").wait_for(timeout=30_000)


pytestmark = pytest.mark.timeout(900)
