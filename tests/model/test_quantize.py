"""TensorFlow Lite's int8 and fp16 classifiers (``model.quantize``): written, measured, loaded and
run by ``predict``; and the ladder's parameter counts against keras-bert's own."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from bertviz_core.arithmetic.config import training_default_config
from bertviz_core.cli import main
from bertviz_core.errors import BundleError
from bertviz_core.ladder import plan_ladder
from bertviz_core.model.bundle import MODEL_FILE, QUANTIZED_FILES, load_bundle, save_bundle, zip_folder
from bertviz_core.model.classifier import build_classifier, predict_proba
from bertviz_core.model.quantize import LiteModel, quantize
from bertviz_core.settings import TrainSettings
from tests.helpers import refusal

pytestmark = pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")

TEXTS = ["alpha beta gamma", "delta epsilon", "a text of words it never saw"]


@pytest.fixture(scope="module")
def quantized(trained, tmp_path_factory):
    folder = save_bundle(trained, tmp_path_factory.mktemp("quantized"))
    return folder, quantize(trained, folder)


def test_the_files_are_smaller_and_score_as_the_float_model_on_the_validation_texts(trained, quantized):
    folder, report = quantized
    figures = report.to_dict()
    parameters = trained.model.count_params()
    assert figures["model_bytes"] == (folder / MODEL_FILE).stat().st_size
    for precision, name in QUANTIZED_FILES.items():
        assert figures[f"{precision}_bytes"] == (folder / name).stat().st_size
        # Within the weights at that precision plus TensorFlow Lite's graph (tens of kB for any model).
        assert figures[f"{precision}_bytes"] < figures["model_bytes"]
        assert figures[f"{precision}_agreement"] >= 0.95
        assert abs(figures[f"{precision}_val_accuracy"] - report.val_accuracy) <= 0.05
        assert figures[f"{precision}_predict_ms_per_text"] > 0
    assert parameters <= figures["int8_bytes"] < figures["fp16_bytes"] < 2 * parameters + 60_000
    assert report.val_accuracy == pytest.approx(trained.metrics["val_accuracy"], abs=1e-6)
    assert report.predict_ms_per_text > 0


def test_a_quantised_model_predicts_as_the_float_one(trained, quantized):
    folder, _ = quantized
    expected = predict_proba(trained, TEXTS)
    for precision in QUANTIZED_FILES:
        bundle = load_bundle(folder, precision=precision)
        assert isinstance(bundle.model, LiteModel)
        got = predict_proba(bundle, TEXTS)
        assert got.shape == expected.shape and np.allclose(got.sum(axis=1), 1, atol=1e-4)
        assert np.abs(got - expected).max() < 0.05
    # The app's int8 download: the quantised file instead of model.h5, which predict runs as it is.
    archive = zip_folder(folder, "int8")
    with zipfile.ZipFile(__import__("io").BytesIO(archive)) as opened:
        assert MODEL_FILE not in opened.namelist() and QUANTIZED_FILES["int8"] in opened.namelist()
    assert isinstance(load_bundle(archive).model, LiteModel)


def test_predict_runs_a_quantised_export_from_the_command_line(quantized, tmp_path, capsys):
    folder, _ = quantized
    export = tmp_path / "int8.zip"
    export.write_bytes(zip_folder(folder, "int8"))
    for arguments in ([str(export)], [str(folder), "--quantized", "fp16"]):
        assert main(["predict", *arguments, *TEXTS, "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert [row["text"] for row in answer["predictions"]] == TEXTS


def test_a_missing_or_foreign_quantised_model_is_refused_in_one_sentence(trained, tmp_path):
    folder = save_bundle(trained, tmp_path / "plain")
    assert "holds no int8 model" in refusal(BundleError, load_bundle, folder, precision="int8")
    assert "precision must be" in refusal(BundleError, load_bundle, folder, precision="int4")
    (folder / QUANTIZED_FILES["int8"]).write_bytes(b"not a flatbuffer at all")
    (folder / MODEL_FILE).unlink()
    assert "not a TensorFlow Lite model" in refusal(BundleError, load_bundle, folder)


def test_the_ladder_counts_parameters_as_keras_bert_builds_them():
    """Each size of a ladder up to a million parameters, built for real with a four-class head."""
    base = training_default_config().with_changes(vocab=300, seq_len=16, pos_num=16)
    ladder = plan_ladder(base, 4, 80, 20, TrainSettings(epochs=1), 3600, 100e9, 1700)
    built = [rung for rung in ladder.rungs if rung.parameters < 1_000_000]
    assert len(built) >= 4
    for rung in built:
        assert rung.parameters == build_classifier(rung.config, 4).count_params(), rung.name
