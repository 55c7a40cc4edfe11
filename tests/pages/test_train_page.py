"""The "Train a classifier" page, run headless with Streamlit's AppTest.

Training tests use a tiny model (one 32-wide layer, 32 tokens) for two epochs so the whole file
stays well under two minutes; the first run of the session also pays for importing TensorFlow.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.rows import training_rows
from bertviz_core.data.samples import load_sample
from bertviz_core.data.tokens import token_preview
from bertviz_core.fields import TRAINING_FIELD
from bertviz_core.model import runtime as tf_runtime
from bertviz_ui.session import SharedModel
from tests.helpers import csv_text, finished_run_folder, rerun_until, result_zip, train_on_page

pytestmark = [
    pytest.mark.slow,
    # A bundle saves .h5 on purpose (keras_bert.get_custom_objects() loads it).
    pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning"),
]

TIMEOUT_S = 180
GOOD_CSV = (
    "review,stars,sentiment\n"
    + "".join(f"I loved the blender {i},5,happy\n" for i in range(12))
    + "".join(f"The kettle broke on day {i},1,sad\n" for i in range(12))
).encode()


@pytest.fixture
def page(repo_root) -> AppTest:
    app = AppTest.from_file(str(repo_root / "app_pages" / "train.py"), default_timeout=TIMEOUT_S)
    app.run()
    assert not app.exception
    return app


def upload(page: AppTest, name: str, content: bytes) -> AppTest:
    page.radio(key="train_source").set_value("My CSV file").run()
    if any(button.key == "train_upload_another" for button in page.button):  # a file is read already
        page.button(key="train_upload_another").click().run()
    page.file_uploader[0].set_value((name, content, "text/csv")).run()
    assert not page.exception
    return page


def make_tiny(page: AppTest) -> AppTest:
    for key, value in (
        ("train_model_embed_dim", 32),
        ("train_model_ff_dim", 64),
        ("train_model_layers", 1),
        ("train_model_seq_len", 32),
        ("train_epochs", 2),
    ):
        page.number_input(key=key).set_value(value)
    page.run()
    assert not page.exception
    return page


def chart_specs(page: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in page.get("plotly_chart")]


def chart_titled(page: AppTest, title: str) -> dict:
    return next(spec for spec in chart_specs(page) if spec["layout"].get("title", {}).get("text") == title)


def test_page_opens_on_a_sample_with_guessed_columns_and_preview(page):
    assert not page.error, [element.value for element in page.error]
    assert page.selectbox(key="train_sample").value == "reviews"
    text_box, label_box = page.selectbox[1], page.selectbox[2]
    assert (text_box.label, text_box.value) == ("Text column", "text")
    assert (label_box.label, label_box.value) == ("Label column", "label")
    preview = page.dataframe[0].value
    assert list(preview.columns) == ["text", "label"]
    assert 0 < len(preview) <= 20
    assert any("1,600 rows read" in caption.value for caption in page.caption)
    chart_titles = [spec["layout"].get("title", {}).get("text", "") for spec in chart_specs(page)]
    assert "Class balance" in chart_titles
    assert any(title.startswith("Text length in tokens") for title in chart_titles)
    assert page.button(key="train_start")


def test_switching_samples_changes_the_classes(page):
    page.selectbox(key="train_sample").set_value("headlines").run()

    assert not page.exception
    balance = chart_titled(page, "Class balance")
    assert balance["data"][0]["x"] == ["food", "sports", "technology", "weather"]


def test_uploaded_csv_is_previewed_with_its_columns_guessed(page):
    upload(page, "mine.csv", GOOD_CSV)

    assert not page.error, [element.value for element in page.error]
    assert page.selectbox[0].value == "review"
    assert page.selectbox[1].value == "sentiment"
    assert list(page.dataframe[0].value.columns) == ["review", "stars", "sentiment"]
    assert any("24 rows read" in caption.value for caption in page.caption)


def test_changing_the_label_column_to_a_unique_id_is_refused_in_one_sentence(page):
    csv = b"id,text,label\n" + b"".join(f"{i},text number {i},{'ab'[i % 2]}\n".encode() for i in range(10))
    upload(page, "ids.csv", csv)
    page.selectbox[1].set_value("id").run()

    assert not page.exception
    assert len(page.error) == 1
    assert "looks like an id" in page.error[0].value


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
        ("blob.csv", bytes(range(256)) * 8, "binary file"),
        (
            "one_class.csv",
            b"text,label\nhello there,greeting\nhi you,greeting\nhey all,greeting\n",
            "only one class",
        ),
    ],
)
def test_bad_files_show_one_error_sentence_and_the_page_keeps_working(page, name, content, expected):
    upload(page, name, content)

    assert len(page.error) == 1
    assert expected in page.error[0].value
    assert not page.get("button") or not any(button.key == "train_start" for button in page.button)

    # Another file works right after.
    upload(page, "good.csv", GOOD_CSV)
    assert not page.exception
    assert not page.error, [element.value for element in page.error]
    assert list(page.dataframe[0].value.columns) == ["review", "stars", "sentiment"]

    # And so does going back to a sample.
    page.radio(key="train_source").set_value("A sample data set").run()
    assert not page.error, [element.value for element in page.error]
    assert page.selectbox(key="train_sample").value == "reviews"


def test_a_sequence_out_of_bounds_is_refused_under_the_boxes_in_one_sentence(page):
    page.number_input(key="train_model_seq_len").set_value(100_000).run()
    assert not page.exception
    (error,) = [element.value for element in page.error]
    assert error.startswith("The sequence length must be from 8 to 2,048 on this page, not 100,000")
    assert not any(button.key == "train_start" for button in page.button)
    page.number_input(key="train_model_seq_len").set_value(64).run()
    assert not page.error and any(button.key == "train_start" for button in page.button)


def test_a_model_too_big_to_train_is_refused_before_training(page):
    page.number_input(key="train_model_embed_dim").set_value(2048)
    page.number_input(key="train_model_layers").set_value(24)
    page.number_input(key="train_model_ff_dim").set_value(8192)
    page.run()

    assert not page.exception
    errors = [element.value for element in page.error]
    assert any(error.startswith("Training this model would need about") for error in errors)
    # The (collapsed) pretraining section refuses it too, in its own sentence.
    assert all("would need about" in error for error in errors) and len(errors) <= 2
    assert not any(button.key in ("train_start", "pretrain_start") for button in page.button)


def test_when_a_tenth_of_the_texts_are_cut_a_longer_sequence_is_offered_in_one_click(page):
    assert not any(button.key == "train_longer_sequence" for button in page.button)  # 64 holds the reviews
    page.number_input(key="train_model_seq_len").set_value(8).run()

    offer = next(caption.value for caption in page.caption if "lose their ends" in caption.value)
    rows = training_rows(load_sample("reviews"))
    stats = token_preview(rows.dataset, vocab_size=5000, seq_len=8, val_share=0.2, seed=0)
    lengths = np.asarray(stats["lengths"])
    assert (
        f"{np.count_nonzero(lengths > 8):,} of the {lengths.size:,} texts are longer than 8 tokens" in offer
    )
    assert f"At a sequence length of 16, {np.count_nonzero(lengths > 16):,} would" in offer
    ratio = costs.compute(ModelConfig(vocab=5000, seq_len=16, pos_num=16, embed_dim=128, heads=2, layers=2,
                                      ff_dim=512, encoder_only=True), classes=2).training / costs.compute(
        ModelConfig(vocab=5000, seq_len=8, pos_num=8, embed_dim=128, heads=2, layers=2, ff_dim=512,
                    encoder_only=True), classes=2).training  # fmt: skip
    assert f"for {ratio:.1f}x the arithmetic's FLOPs per text" in offer
    page.button(key="train_longer_sequence").click().run()

    assert not page.exception
    assert page.number_input(key="train_model_seq_len").value == 16


def test_no_longer_sequence_is_offered_when_it_would_not_fit_in_memory(page, monkeypatch):
    import bertviz_ui.train_model as memory
    from bertviz_core.errors import MemoryGuardError

    real = memory.check_training_fits

    def refuse_sixteen(config, *args, **kwargs):
        if config.seq_len == 16:
            raise MemoryGuardError("Training this model would need more memory than allowed.")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(memory, "check_training_fits", refuse_sixteen)
    page.number_input(key="train_model_seq_len").set_value(8).run()

    assert not page.exception and not page.error
    assert any(metric.label == "Texts cut off" for metric in page.metric)
    assert not any("lose their ends" in caption.value for caption in page.caption)
    assert not any(button.key == "train_longer_sequence" for button in page.button)


def test_the_sequence_box_of_a_checkpoint_is_bounded_by_its_positions():
    from types import SimpleNamespace

    from bertviz_ui.start_from import Start, sequence_length_box

    new = Start(ModelConfig())
    assert sequence_length_box(new) == ("train_model_seq_len", 2048)
    checkpoint = Start(
        ModelConfig(seq_len=64, pos_num=64), SimpleNamespace(config=ModelConfig(seq_len=128, pos_num=128))
    )
    assert sequence_length_box(checkpoint) == ("train_checkpoint_seq_len_128", 128)


def test_heads_offered_divide_the_embedding_dimension(page):
    page.number_input(key="train_model_embed_dim").set_value(96).run()

    heads = page.selectbox(key="train_model_heads")
    assert heads.options == ["1", "2", "3", "4", "6", "8", "12", "16", "24", "32", "48"]
    assert int(heads.value) == 2


def test_the_explorers_bert_base_is_not_offered_and_the_page_says_why(page):
    page.session_state["shared_model"] = SharedModel(ModelConfig(), "explorer")
    page.run()

    assert not page.exception
    assert not any(button.key == "train_use_explorer" for button in page.button)
    assert any(
        "would need about" in caption.value and "MB to train" in caption.value for caption in page.caption
    )


def test_a_small_explorer_model_can_be_taken_over(page):
    page.session_state["shared_model"] = SharedModel(
        ModelConfig(vocab=1000, seq_len=36, pos_num=36, embed_dim=6, heads=1, layers=3, ff_dim=48), "explorer"
    )
    page.run()
    page.button(key="train_use_explorer").click().run()

    assert not page.exception
    assert page.number_input(key="train_model_embed_dim").value == 6
    assert page.number_input(key="train_model_seq_len").value == 36
    assert page.number_input(key="train_model_layers").value == 3
    assert int(page.selectbox(key="train_model_heads").value) == 1


def test_training_shows_results_and_prediction_gives_probabilities(page):
    make_tiny(page)
    train_on_page(page)

    assert not page.exception
    assert not page.error, [element.value for element in page.error]
    metrics = {metric.label: metric.value for metric in page.metric}
    assert metrics["Validation accuracy"].endswith("%")
    assert "Macro F1" in metrics
    baseline = float(metrics["Majority baseline"].rstrip("%"))
    assert 45 <= baseline <= 55  # the reviews sample is nearly balanced
    assert page.success or page.warning  # the verdict against the baseline, either way
    specs = chart_specs(page)
    assert not [
        spec for spec in specs if spec["data"][0]["type"] == "heatmap"
    ]  # one confusion matrix: the table
    (confusion,) = [frame.value for frame in page.dataframe if frame.value.index.name == "true class"]
    assert list(confusion.columns) == list(confusion.index) == ["negative", "positive"]
    assert int(confusion.to_numpy().sum()) == 320  # 20 % of 1,600 rows
    curves = next(spec for spec in specs if spec["layout"].get("annotations", [{}])[0].get("text") == "Loss")
    assert curves["data"][0]["x"] == [1, 2]
    assert [button.label for button in page.get("download_button")] == [
        "Model (zip)",
        "Metrics (CSV)",
        "History (CSV)",
    ]

    page.text_input(key="train_predict_text").input("The toaster is wonderful and solid").run()
    assert not page.exception
    assert any(markdown.value.startswith("Predicted class:") for markdown in page.markdown)
    probabilities = chart_titled(page, "Class probabilities")
    assert probabilities["data"][0]["y"] == ["negative", "positive"]
    assert sum(probabilities["data"][0]["x"]) == pytest.approx(1.0, abs=1e-5)

    look_inside_the_trained_model(page)

    # The exported zip's model.h5 loads with keras-bert's custom objects alone and predicts the same.
    archive = zipfile.ZipFile(io.BytesIO(result_zip(page)))
    assert {"model.h5", "vocab.txt", "labels.json", "config.json", "metrics.json"} <= set(archive.namelist())
    tf, keras_bert = tf_runtime.tensorflow(), tf_runtime.keras_bert()
    with tempfile.TemporaryDirectory() as folder:
        path = archive.extract("model.h5", folder)
        loaded = tf.keras.models.load_model(
            path, custom_objects=keras_bert.get_custom_objects(), compile=False
        )
    assert loaded.output_shape == (None, 2)
    assert "Lambda" not in {type(layer).__name__ for layer in loaded.layers}

    # Results stay in the session when the data changes.
    page.selectbox(key="train_sample").set_value("headlines").run()
    assert not page.exception
    assert "Validation accuracy" in {metric.label for metric in page.metric}


def look_inside_the_trained_model(page: AppTest) -> None:
    """The TF-IDF baseline, the mistakes of a confusion-matrix cell, and attention and attributions."""
    from bertviz_core.model.bundle import read_saved

    metrics = {metric.label: metric.value for metric in page.metric}
    assert metrics["TF-IDF baseline"].endswith("%")
    assert any("bag of words" in caption.value for caption in page.caption)
    saved = read_saved(finished_run_folder(page))
    matrix = saved.validation.confusion_matrix()
    assert matrix.tolist() == saved.metrics["confusion_matrix"]
    cells_key = f"train_cells_{saved.folder.name}"
    for true_id, predicted_id in ((0, 1), (1, 1)):
        page.session_state[cells_key] = {"selection": {"cells": [(true_id, saved.class_names[predicted_id])]}}
        page.run()
        assert not page.exception
        table = next(frame.value for frame in page.dataframe if "true class" in frame.value.columns)
        assert len(table) == matrix[true_id, predicted_id]
        assert set(table["predicted"]) <= {saved.class_names[predicted_id]}
        assert any(
            markdown.value.startswith(f"**{matrix[true_id, predicted_id]:,}** validation")
            for markdown in page.markdown
        )

    page.text_input(key="train_explain_text").input("The toaster is wonderful and solid").run()
    assert not page.exception and not page.error, [element.value for element in page.error]
    titles = [spec["layout"].get("title", {}).get("text", "") for spec in chart_specs(page)]
    assert any(title.startswith("What moved p(") for title in titles)
    assert "Encoder-1-MultiHeadSelfAttention, head 1" in titles
    assert "Attention of every layer and head" in titles
    assert any("add up to" in caption.value for caption in page.caption)
    next(radio for radio in page.radio if radio.label == "Attributions towards").set_value(0).run()
    assert chart_titled(page, f"What moved p({saved.class_names[0]})")


def test_settings_survive_a_visit_to_the_explorer(repo_root):
    app = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT_S)
    app.run()
    app.switch_page("app_pages/train.py").run()
    assert not app.exception
    app.number_input(key="train_epochs").set_value(3)
    app.selectbox(key="train_sample").set_value("headlines")
    app.run()

    app.switch_page("app_pages/explorer.py").run()
    assert not app.exception
    app.switch_page("app_pages/train.py").run()

    assert not app.exception
    assert app.number_input(key="train_epochs").value == 3
    assert app.selectbox(key="train_sample").value == "headlines"


def test_an_upload_is_released_once_read_and_the_session_keeps_a_compact_table(page):
    rows = "".join(
        f"review number {index} of a kettle that works well,{'good' if index % 2 else 'bad'}\n"
        for index in range(40_000)
    )
    content = ("text,label\n" + rows).encode()
    upload(page, "reviews.csv", content)

    assert not page.exception and not page.error
    assert not page.file_uploader  # the uploader that held the bytes is gone
    assert any(
        "reviews.csv: read, and the upload itself released" in caption.value.replace("\\", "")
        for caption in page.caption
    )
    held = page.session_state["train_uploaded_table"].table.frame
    assert held.memory_usage(deep=True).sum() < 1.5 * len(content)  # compact strings, about the file's size

    page.button(key="train_upload_another").click().run()
    assert page.file_uploader and page.file_uploader[0].value is None


def test_the_page_and_the_command_line_train_on_the_same_rows_of_a_large_file(page, monkeypatch, tmp_path):
    """One path from a table to training rows: the same file and seed give the same sample of a file
    over the row limit on the page and in ``train`` (they once sampled with different seeds)."""
    import argparse

    from bertviz_core.cli.train import _read_rows
    from bertviz_core.data.limits import MAX_ROWS
    from bertviz_ui import train_data as rows_module

    lines = [
        f"text number {index} about {'tea' if index % 3 else 'coffee'},{'tea' if index % 3 else 'coffee'}"
        for index in range(MAX_ROWS + 700)
    ]
    content = ("text,label\n" + "\n".join(lines) + "\n").encode()
    (tmp_path / "large.csv").write_bytes(content)
    seen = []
    original = rows_module.training_rows
    monkeypatch.setattr(
        rows_module,
        "training_rows",
        lambda *args, **kwargs: seen.append(original(*args, **kwargs)) or seen[-1],
    )

    page.number_input(key="train_seed").set_value(7).run()
    upload(page, "large.csv", content)
    assert not page.exception and not page.error and seen
    on_page = seen[-1].dataset

    arguments = argparse.Namespace(
        csv=str(tmp_path / "large.csv"), text_column=None, label_column=None, max_rows=MAX_ROWS, seed=7
    )
    on_the_command_line = _read_rows(arguments)[0].dataset
    assert len(on_page.texts) == MAX_ROWS
    assert on_page.texts == on_the_command_line.texts and on_page.labels == on_the_command_line.labels


def test_fine_tuning_an_uploaded_checkpoint_and_comparing_it_with_a_new_model(page, tmp_path):
    """Upload a checkpoint zip in Google's layout, fine-tune it, then train a new model: both runs
    sit in one table and their validation curves on one chart."""
    from bertviz_core.model.bundle import read_saved
    from tests.model.checkpoints import write_google_checkpoint, zipped

    small = ModelConfig(vocab=64, seq_len=64, pos_num=64, embed_dim=16, heads=2, layers=1, ff_dim=32)
    payload = zipped(write_google_checkpoint(tmp_path / "uncased_L-1_H-16_A-2", small))
    page.radio(key="train_start_from").set_value("checkpoint").run()
    assert any("github.com/google-research/bert" in info.value for info in page.info), [
        i.value for i in page.info
    ]
    page.file_uploader[-1].set_value(("uncased_L-1_H-16_A-2.zip", payload, "application/zip")).run()
    assert not page.exception and not page.error, [element.value for element in page.error]
    assert page.select_slider(key="train_learning_rate").value == 3e-5  # a released BERT: a fine-tuning rate
    assert page.selectbox(key="train_checkpoint_choice").value is not None
    assert any("fixed by its configuration" in caption.value for caption in page.caption)
    assert {metric.label: metric.value for metric in page.metric}["Vocabulary"] == "64"
    # Most reviews are longer than 8 tokens: the page offers 16 for the checkpoint's own box.
    page.number_input(key="train_checkpoint_seq_len_64").set_value(8).run()
    assert any("longer than 8 tokens" in caption.value for caption in page.caption)
    page.button(key="train_longer_sequence").click().run()
    assert not page.exception and page.number_input(key="train_checkpoint_seq_len_64").value == 16
    page.number_input(key="train_epochs").set_value(2).run()
    train_on_page(page)
    assert not page.exception and not page.error, [element.value for element in page.error]
    assert any(
        "from the checkpoint uncased\\_L\\-1\\_H\\-16\\_A\\-2" in caption.value for caption in page.caption
    )
    saved = read_saved(finished_run_folder(page))
    assert saved.metrics["start"] == {"from": "checkpoint", "name": "uncased_L-1_H-16_A-2", "gelu": "tanh"}
    assert saved.vocabulary.word_pieces and len(saved.vocabulary) == 64

    page.radio(key="train_start_from").set_value("scratch").run()
    assert page.select_slider(key="train_learning_rate").value == TRAINING_FIELD["learning_rate"].default
    make_tiny(page)
    train_on_page(page)
    assert not page.exception
    table = next(frame.value for frame in page.dataframe if "start" in frame.value.columns)
    # (AppTest sessions of one process may share a visitor: earlier tests' runs can be listed too.)
    assert {"new model", "uncased_L-1_H-16_A-2"} <= set(table["start"])
    compared = chart_titled_subplots(page, "Validation accuracy")
    names = {trace["name"] for trace in compared["data"]}
    assert len(names) == len(table) and any("uncased" in name for name in names)  # every run, by default


def test_a_broken_checkpoint_zip_is_refused_in_one_sentence_and_the_page_keeps_working(page):
    page.radio(key="train_start_from").set_value("checkpoint").run()
    page.file_uploader[-1].set_value(("evil.zip", _zip({"../../x.txt": b"1"}), "application/zip")).run()
    assert not page.exception
    errors = [element.value for element in page.error]
    assert len(errors) == 1 and "outside a checkpoint folder" in errors[0]
    page.radio(key="train_start_from").set_value("scratch").run()
    assert not page.exception and any(button.key == "train_start" for button in page.button)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def chart_titled_subplots(page: AppTest, subplot_title: str) -> dict:
    return next(
        spec
        for spec in chart_specs(page)
        if any(
            annotation.get("text") == subplot_title for annotation in spec["layout"].get("annotations", [])
        )
    )


def test_a_hugging_face_folders_files_or_a_model_id_become_a_start_stored_once(page, tmp_path, monkeypatch):
    """The files of a Hugging Face folder, uploaded together, become a start; the same files again
    choose the stored one instead of storing a copy; a model id comes from the server's hub cache,
    and one it cannot fetch gets one sentence; a stored start can be deleted."""
    from tests.model.huggingface_files import hub_cache_with, write_huggingface_folder

    small = ModelConfig(vocab=64, seq_len=32, pos_num=32, embed_dim=16, heads=2, layers=1, ff_dim=32)
    folder = write_huggingface_folder(tmp_path / "tiny-bert", small, sentence_transformers=True)
    files = [
        (path.name, path.read_bytes(), "application/octet-stream")
        for path in sorted(folder.iterdir())
        if path.is_file()
    ]
    page.radio(key="train_start_from").set_value("checkpoint").run()

    def stored() -> list[str]:
        return [run for run in page.selectbox(key="train_checkpoint_choice").options]

    for _ in range(2):  # the second upload of the same files stores nothing new
        page.file_uploader[-1].set_value(files).run()
        assert not page.exception and not page.error, [element.value for element in page.error]
    # Named from its configuration (loose files name no folder), and stored once.
    assert len([label for label in stored() if label.startswith("uploaded_L-1_H-16_A-2 (uploaded at")]) == 1
    assert any("fixed by its configuration" in caption.value for caption in page.caption)
    assert (
        page.select_slider(key="train_learning_rate").value == 3e-5
    )  # pretrained elsewhere: a fine-tuning rate

    # A model id from the server's hub cache (the hub itself is out of reach here: offline).
    cache = tmp_path / "hub"
    hub_cache_with(cache, "someone/tiny-bert", folder, ("config.json", "model.safetensors", "vocab.txt"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BERTVIZ_HUB_CACHE", str(cache))
    from bertviz_ui.jobs import hub_cache

    hub_cache.clear()
    page.text_input(key="train_hub_id").input("someone/tiny-bert")
    page.button[[b.label for b in page.button].index("Fetch")].click().run()
    assert not page.exception and not page.error, [element.value for element in page.error]
    assert any("someone/tiny-bert (fetched" in label for label in stored())
    page.text_input(key="train_hub_id").input("someone/not-here")
    page.button[[b.label for b in page.button].index("Fetch")].click().run()
    (error,) = [element.value for element in page.error]
    assert "cannot be reached from this machine" in error and "upload it as a zip instead" in error
    before = len(stored())
    page.button(key="train_checkpoint_delete").click().run()
    assert not page.exception and len(stored()) == before - 1
    hub_cache.clear()


def test_pretrain_on_the_samples_texts_then_fine_tune_from_it(page):
    """Pretrain the new model on the training texts (masked words, next sentences), download it in
    Google's layout, then fine-tune from it: the new model's learning rate, its own vocabulary."""
    from bertviz_core.model.checkpoint import zip_checkpoint
    from bertviz_core.runs import PRETRAINING
    from bertviz_ui.jobs import store

    make_tiny(page)
    page.number_input(key="pretrain_epochs").set_value(1).run()
    train_on_page(page, kind="pretrain")
    assert not page.exception and not page.error, [element.value for element in page.error]
    assert any("of masked words" in success.value for success in page.success)
    (pretrained,) = [
        run for run in store().runs(page.session_state["visitor_key"]) if run.kind == PRETRAINING
    ][:1]
    with zipfile.ZipFile(
        io.BytesIO(zip_checkpoint(pretrained.folder, inside="pretrained_L-1_H-32_A-2"))
    ) as archive:
        assert "pretrained_L-1_H-32_A-2/bert_config.json" in archive.namelist()
    assert any(button.key == "pretrain_download" for button in page.get("download_button"))

    page.radio(key="train_start_from").set_value("checkpoint").run()
    chosen = page.selectbox(key="train_checkpoint_choice")
    assert "(pretrained here at" in chosen.format_func(chosen.value)
    assert page.select_slider(key="train_learning_rate").value == TRAINING_FIELD["learning_rate"].default
    page.number_input(key="train_epochs").set_value(1).run()
    train_on_page(page)
    assert not page.exception and not page.error, [element.value for element in page.error]
    assert any(
        "from the checkpoint pretrained\\_L\\-1\\_H\\-32\\_A\\-2" in caption.value for caption in page.caption
    )


@pytest.mark.timeout(600)
def test_the_real_minilm_trains_its_head_on_the_page_and_fine_tuning_it_says_what_memory_it_needs(
    page, monkeypatch
):
    """The premise on the page: all-MiniLM-L6-v2's files uploaded, the head trained on its frozen
    encoder's reading of the texts, the answer tried; fine-tuning every layer costs more memory than
    this server allows, which the page says under the boxes before anything runs."""
    from bertviz_ui import train_model, training_run
    from tests.model.huggingface_files import minilm_folder

    # The page's guard as on a server with the default budget (2,000 MB less the server's 300), whatever
    # this test process holds (the job pool itself gets the budget of budget_as_on_a_server).
    for module in (train_model, training_run):
        monkeypatch.setattr(module, "training_budget_mb", lambda beside_server=False: 1_700)
    rows = [(f"{topic} {word} number {index}", topic) for index in range(60)
            for topic, word in (("weather", "rain and wind"), ("sport", "a goal and a match"))]  # fmt: skip
    upload(page, "topics.csv", csv_text(rows).encode())
    files = [(path.name, path.read_bytes(), "application/octet-stream")
             for path in sorted(minilm_folder().iterdir()) if path.is_file()]  # fmt: skip
    page.radio(key="train_start_from").set_value("checkpoint").run()
    page.file_uploader[-1].set_value(files).run()
    assert not page.exception
    assert any("fixed by its configuration" in caption.value for caption in page.caption)
    # Every layer, the default: more than this server allows, said under the boxes, with the way out.
    assert page.radio(key="train_encoder").value == "fine-tune"
    refusal = [element.value for element in page.error]
    assert len(refusal) == 1 and refusal[0].startswith("Training this model would need about"), refusal
    assert any("Training the head only needs about" in info.value for info in page.info)
    assert not any(button.key == "train_start" for button in page.button)

    page.radio(key="train_encoder").set_value("frozen").run()
    assert not page.error and page.select_slider(key="train_learning_rate").value == 1e-2
    assert any("the head only trained" in caption.value for caption in page.caption)
    page.number_input(key="train_epochs").set_value(5).run()
    train_on_page(page, timeout=500)
    assert not page.exception and not page.error, [element.value for element in page.error]
    metrics = {metric.label: metric.value for metric in page.metric}
    assert (
        float(metrics["Validation accuracy"].rstrip("%")) >= 90
    )  # two topics any pretrained encoder tells apart
    assert any("exact GELU" in caption.value for caption in page.caption)  # the export's extra custom object
    from bertviz_core.model.bundle import read_saved

    saved = read_saved(finished_run_folder(page))
    assert saved.settings["encoder"] == "frozen" and saved.metrics["start"]["gelu"] == "erf"
    page.text_input(key="train_predict_text").input("rain and wind all night").run()
    rerun_until(page, lambda app: any(m.value.startswith("Predicted class:") for m in app.markdown))
    assert any("**weather**" in markdown.value for markdown in page.markdown)
