"""Saving and loading a classifier: plain files, identical predictions, hostile zips refused."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from bertviz_core.errors import BundleError
from bertviz_core.model.bundle import (
    BUNDLE_FILES,
    load_bundle,
    read_saved,
    save_bundle,
    zip_folder,
)
from bertviz_core.model.classifier import predict_proba
from tests.model.conftest import FAST, TINY, export_zip

pytestmark = pytest.mark.slow


# --- save and load ------------------------------------------------------------------------------
PROBE = ["this film was great", "awful and boring", "a very good one", "never seen words here"]


def test_save_and_load_folder_gives_identical_predictions(trained, tmp_path):
    save_bundle(trained, tmp_path / "model")
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == sorted(BUNDLE_FILES)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["model"] == TINY.with_changes(encoder_only=True).to_dict()
    assert config["training"] == FAST.to_dict()
    loaded = load_bundle(tmp_path / "model")
    assert loaded.class_names == trained.class_names and loaded.vocabulary == trained.vocabulary
    assert loaded.metrics["val_accuracy"] == trained.metrics["val_accuracy"]
    assert np.array_equal(predict_proba(loaded, PROBE), predict_proba(trained, PROBE))


def test_zip_export_holds_exactly_the_plain_names_and_reloads_identically(trained, tmp_path):
    payload = export_zip(trained)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert sorted(archive.namelist()) == sorted(BUNDLE_FILES)
    (tmp_path / "model.zip").write_bytes(payload)
    for source in (payload, tmp_path / "model.zip", str(tmp_path / "model.zip")):
        loaded = load_bundle(source)
        assert np.array_equal(predict_proba(loaded, PROBE), predict_proba(trained, PROBE))


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bundle_files(trained) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(export_zip(trained))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("hostile_name", ["../model.h5", "/etc/evil", "sub/model.h5", "evil.py", "..\\x.txt"])
def test_hostile_zip_names_are_refused(bundle_files, hostile_name):
    with pytest.raises(BundleError) as caught:
        load_bundle(_zip({**bundle_files, hostile_name: b"print('hi')"}))
    assert "not part of a saved classifier" in str(caught.value)


def test_oversized_zip_and_other_damage_are_refused(bundle_files):
    payload = _zip(bundle_files)
    with pytest.raises(BundleError, match="more than"):
        load_bundle(payload, max_bytes=1000)
    with pytest.raises(BundleError, match="not a zip"):
        load_bundle(b"PK\x03\x04 not really")
    with pytest.raises(BundleError, match="no vocab.txt"):
        load_bundle(_zip({name: data for name, data in bundle_files.items() if name != "vocab.txt"}))
    with pytest.raises(BundleError, match="labels.json"):
        load_bundle(_zip({**bundle_files, "labels.json": b'["only-one"]'}))
    with pytest.raises(BundleError, match="do not belong together"):
        load_bundle(_zip({**bundle_files, "labels.json": b'["a", "b", "c"]'}))
    with pytest.raises(BundleError, match="config.json"):
        load_bundle(_zip({**bundle_files, "config.json": b'{"model": {"heads": 3}}'}))
    with pytest.raises(BundleError, match="HDF5"):
        load_bundle(_zip({**bundle_files, "model.h5": b"not hdf5"}))


def test_a_model_naming_a_lambda_layer_is_refused_before_keras_reads_it(bundle_files, tmp_path):
    import h5py

    path = tmp_path / "model.h5"
    path.write_bytes(bundle_files["model.h5"])
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][-1]["class_name"] = "Lambda"
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(BundleError, match="Lambda"):
        load_bundle(_zip({**bundle_files, "model.h5": path.read_bytes()}))


def test_validation_predictions_are_saved_with_the_model_and_match_its_evaluation(trained, tmp_path):
    folder = save_bundle(trained, tmp_path / "model")
    saved = read_saved(folder)
    validation = saved.validation
    assert validation is not None and len(validation.texts) == trained.metrics["val_samples"]
    assert validation.confusion_matrix().tolist() == trained.metrics["confusion_matrix"]
    # The probabilities are the model's own for those texts.
    np.testing.assert_allclose(
        validation.probabilities, predict_proba(trained, list(validation.texts)), atol=1e-5
    )


def test_a_bundle_saved_without_validation_predictions_still_loads(trained, tmp_path):
    folder = save_bundle(trained, tmp_path / "model")
    (folder / "validation.json").unlink()
    assert read_saved(folder).validation is None
    assert load_bundle(folder).validation == {}
    with zipfile.ZipFile(io.BytesIO(zip_folder(folder))) as archive:
        assert "validation.json" not in archive.namelist()
