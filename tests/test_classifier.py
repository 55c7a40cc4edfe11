"""The classifier core: vocabulary and encoding, the model, training, evaluation, save and load."""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest

from bertviz_core import costs
from bertviz_core.bundle import BUNDLE_FILES, BundleError, export_zip, load_bundle, save_bundle
from bertviz_core.classifier import (
    TrainingError,
    build_classifier,
    check_training_fits,
    evaluate,
    predict_labels,
    predict_proba,
    training_budget_mb,
)
from bertviz_core.config import ModelConfig
from bertviz_core.data import Dataset, stratified_split
from bertviz_core.tokens import (
    SPECIAL_TOKENS,
    Vocabulary,
    VocabularyError,
    build_vocabulary,
    encode_texts,
    words,
)
from bertviz_core.training import EPOCH_KEYS, TrainSettings, train_classifier

pytestmark = pytest.mark.slow

TINY = ModelConfig(vocab=200, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32)
FAST = TrainSettings(epochs=6, batch_size=8, learning_rate=0.005, patience=3, seed=0)


def separable_dataset(rows: int = 160, seed: int = 0) -> Dataset:
    """Two classes told apart by one sentiment word among neutral filler."""
    rng = np.random.default_rng(seed)
    filler = ["the", "a", "of", "film", "this", "and", "it", "was", "is", "very", "really", "quite"]
    cue = {
        "neg": ["bad", "awful", "hate", "terrible", "boring"],
        "pos": ["good", "great", "love", "excellent", "wonderful"],
    }
    names = ("neg", "pos")
    texts, labels = [], []
    for i in range(rows):
        label = names[i % 2]
        tokens = [*rng.choice(filler, 5), rng.choice(cue[label])]
        rng.shuffle(tokens)
        texts.append(" ".join(tokens))
        labels.append(label)
    ids = np.array([names.index(label) for label in labels], dtype=np.int64)
    return Dataset(texts=tuple(texts), labels=tuple(labels), class_names=names, label_ids=ids, notes=())


@pytest.fixture(scope="module")
def trained():
    return train_classifier(separable_dataset(), TINY, FAST)


# --- tokens -------------------------------------------------------------------------------------
def test_basic_tokenisation_lowercases_strips_accents_and_splits_punctuation():
    assert words("Hello, WORLD! Café au-lait") == ["hello", ",", "world", "!", "cafe", "au", "-", "lait"]


def test_vocabulary_has_specials_first_then_words_by_frequency():
    vocabulary = build_vocabulary(["b a a", "a c", "d d"], size=len(SPECIAL_TOKENS) + 3)
    assert vocabulary.tokens[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert vocabulary.tokens[5:] == ("a", "d", "b")  # a:3, d:2, then b before c (tie, alphabetical)
    assert vocabulary.token_dict["[PAD]"] == 0
    assert len(build_vocabulary(["x y"], size=1000)) == 7  # never padded beyond the words seen


def test_vocabulary_too_small_is_refused_with_a_sentence():
    with pytest.raises(VocabularyError, match="no room for words"):
        build_vocabulary(["a"], size=5)


def test_encoding_counts_unknown_words_and_truncated_texts():
    vocabulary = build_vocabulary(["good film", "bad film"], size=8)  # film, bad, good
    encoded = encode_texts(vocabulary, ["good film", "great film indeed", "bad " * 10], seq_len=6)
    ids = vocabulary.token_dict
    assert encoded.token_ids.shape == (3, 6) and encoded.token_ids.dtype == np.int32
    assert encoded.token_ids[0].tolist() == [ids["[CLS]"], ids["good"], ids["film"], ids["[SEP]"], 0, 0]
    assert encoded.token_ids[1].tolist()[:5] == [
        ids["[CLS]"],
        ids["[UNK]"],
        ids["film"],
        ids["[UNK]"],
        ids["[SEP]"],
    ]
    assert encoded.token_ids[2].tolist() == [ids["[CLS]"]] + [ids["bad"]] * 4 + [ids["[SEP]"]]
    assert encoded.token_lengths.tolist() == [4, 5, 12]
    assert encoded.unknown_tokens == 2 and encoded.word_tokens == 2 + 3 + 10
    assert encoded.truncated == 1
    assert encoded.stats()["unknown_share"] == pytest.approx(2 / 15, abs=1e-6)
    assert not encoded.segment_ids.any()


def test_vocabulary_text_round_trip_and_refusals():
    vocabulary = build_vocabulary(["alpha beta"], size=10)
    assert Vocabulary.from_text(vocabulary.to_text()) == vocabulary
    with pytest.raises(VocabularyError):
        Vocabulary.from_text("alpha\nbeta\n")
    with pytest.raises(VocabularyError):
        Vocabulary.from_text(vocabulary.to_text(), max_size=3)
    with pytest.raises(VocabularyError):
        Vocabulary.from_text(vocabulary.to_text() + "alpha\n")


# --- model and memory guard ---------------------------------------------------------------------
def test_model_is_keras_bert_encoder_with_extract_and_softmax_head_and_no_lambda():
    model = build_classifier(TINY, num_classes=3, seed=1)
    names = [layer.name for layer in model.layers]
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Lambda" not in kinds
    assert [tensor.name.split(":")[0] for tensor in model.inputs] == ["Input-Token", "Input-Segment"]
    assert names[-2:] == ["Extract", "Classifier"]
    assert {
        "Embedding-Token",
        "Embedding-Position",
        "Encoder-1-MultiHeadSelfAttention",
        "Encoder-1-FeedForward-Norm",
    } <= set(names)
    assert not any(name.startswith(("MLM", "NSP")) for name in names)
    assert model.output_shape == (None, 3)
    assert model.get_layer("Classifier").get_config()["activation"] == "softmax"
    assert model.count_params() == costs.classifier_params(TINY, 3)
    assert model.trainable_weights  # get_model(training=False) alone would freeze everything


def test_memory_guard_refuses_a_model_too_large_to_train():
    with pytest.raises(TrainingError) as caught:
        check_training_fits(ModelConfig(), num_classes=2, batch_size=32, budget_mb=1200)
    message = str(caught.value)
    assert "MB" in message and "lower the batch size" in message and message.count(".") <= 2
    assert check_training_fits(TINY, 2, 32, budget_mb=1200).total_mb < 10


def test_memory_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BERTVIZ_MEMORY_BUDGET_MB", "1000")
    assert training_budget_mb() == 200
    monkeypatch.delenv("BERTVIZ_MEMORY_BUDGET_MB")
    assert training_budget_mb() <= 1200


@pytest.mark.parametrize(
    "changes",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"learning_rate": 0.0},
        {"learning_rate": 5},
        {"val_share": 0.9},
        {"patience": 0},
        {"epochs": 2.5},
    ],
)
def test_train_settings_are_validated_with_one_sentence(changes):
    with pytest.raises(TrainingError) as caught:
        TrainSettings(**changes)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_one_class_is_refused():
    dataset = separable_dataset(20)
    one_class = Dataset(dataset.texts, dataset.labels, ("pos",), np.zeros(20, dtype=np.int64), ())
    with pytest.raises(TrainingError, match="two"):
        train_classifier(one_class, TINY, FAST)


# --- evaluation ---------------------------------------------------------------------------------
def test_evaluation_numbers_by_hand():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 0, 0])
    result = evaluate(true, predicted, ("a", "b", "c"), train_label_ids=np.array([1, 1, 1, 0, 2]))
    assert result["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert result["val_accuracy"] == pytest.approx(3 / 6)
    assert result["majority_class"] == "b" and result["majority_baseline"] == pytest.approx(2 / 6)
    a, b, c = result["per_class"]
    assert (a["precision"], a["recall"], a["support"]) == (pytest.approx(2 / 4), pytest.approx(2 / 3), 3)
    assert a["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert (b["precision"], b["recall"], b["f1"]) == (
        pytest.approx(0.5),
        pytest.approx(0.5),
        pytest.approx(0.5),
    )
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)  # never predicted: 0, not NaN
    assert result["macro_f1"] == pytest.approx((a["f1"] + 0.5 + 0.0) / 3)


# --- training -----------------------------------------------------------------------------------
def test_training_beats_the_majority_baseline(trained):
    metrics = trained.metrics
    assert metrics["val_accuracy"] > metrics["majority_baseline"] + 0.2
    assert metrics["macro_f1"] > 0.6
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["val_samples"] == 32
    assert [row["class"] for row in metrics["per_class"]] == ["neg", "pos"]
    assert metrics["history"] and all(set(EPOCH_KEYS) <= set(record) for record in metrics["history"])
    assert all(record["samples_per_second"] > 0 for record in metrics["history"])
    assert metrics["tokens"]["token_lengths"] == [8] * 128
    assert trained.config.encoder_only and trained.class_names == ("neg", "pos")
    json.dumps(metrics, allow_nan=False)


def test_predictions_are_probabilities_in_class_order(trained):
    probabilities = predict_proba(trained, ["this film was great", "awful and boring", "zzz unknown"])
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert predict_labels(trained, ["really good good good", "bad bad awful"]) == ["pos", "neg"]


class StopAfter:
    """Progress object: asks to stop after ``batches`` batches, records what it was told."""

    def __init__(self, batches: int):
        self.batches = batches
        self.seen: list[tuple[int, int, int]] = []
        self.epochs: list[dict] = []

    def on_batch_end(self, epoch: int, batch: int, batches_per_epoch: int) -> None:
        self.seen.append((epoch, batch, batches_per_epoch))

    def on_epoch_end(self, record: dict) -> None:
        self.epochs.append(record)

    def should_stop(self) -> bool:
        return len(self.seen) >= self.batches


def _val_loss(bundle, dataset: Dataset, settings: TrainSettings) -> float:
    _, val_idx = stratified_split(dataset.label_ids, settings.val_share, settings.seed)
    probabilities = predict_proba(bundle, [dataset.texts[i] for i in val_idx])
    picked = probabilities[np.arange(len(val_idx)), dataset.label_ids[val_idx]]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def test_should_stop_ends_mid_epoch_and_keeps_the_best_completed_epoch():
    dataset = separable_dataset()
    settings = TrainSettings(epochs=10, batch_size=8, learning_rate=0.005, patience=10)
    batches_per_epoch = 16  # 128 training rows / 8
    progress = StopAfter(2 * batches_per_epoch + 3)
    bundle = train_classifier(dataset, TINY, settings, progress)
    history = bundle.metrics["history"]
    assert len(history) == 2 and progress.epochs == history  # the cut third epoch is not recorded
    assert progress.seen[0] == (1, 1, batches_per_epoch) and progress.seen[-1] == (3, 3, batches_per_epoch)
    assert bundle.metrics["stopped_by_user"] and not bundle.metrics["stopped_early"]
    best = min(history, key=lambda record: record["val_loss"])
    assert bundle.metrics["best_epoch"] == best["epoch"]
    # The weights kept are the best epoch's: their validation loss is that epoch's, not the cut epoch's.
    assert _val_loss(bundle, dataset, settings) == pytest.approx(best["val_loss"], rel=1e-3, abs=1e-4)


def test_stop_before_the_first_epoch_ends_is_a_sentence():
    with pytest.raises(TrainingError, match="before the first epoch finished"):
        train_classifier(separable_dataset(), TINY, FAST, StopAfter(1))


def test_two_trainings_have_their_own_models():
    first = train_classifier(separable_dataset(40, seed=1), TINY, TrainSettings(epochs=1, batch_size=8))
    second = train_classifier(
        separable_dataset(40, seed=2), TINY, TrainSettings(epochs=1, batch_size=8, seed=3)
    )
    assert first.model is not second.model
    assert not np.array_equal(first.model.get_weights()[0], second.model.get_weights()[0])


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


def test_history_has_no_nan_even_when_training_diverges():
    settings = TrainSettings(epochs=2, batch_size=8, learning_rate=1.0)
    try:
        bundle = train_classifier(separable_dataset(40), TINY, settings)
    except TrainingError as error:
        assert "learning rate" in str(error)
        return
    for record in bundle.metrics["history"]:
        assert all(value is None or math.isfinite(value) for value in record.values())


def test_two_sessions_can_train_at_the_same_time():
    """Streamlit runs each session in a thread: two trainings in one process must not interfere."""
    import threading

    results: dict[int, object] = {}

    def run(seed: int) -> None:
        try:
            results[seed] = train_classifier(separable_dataset(seed=seed), TINY, FAST)
        except Exception as error:  # reported below; a thread's exception would otherwise vanish
            results[seed] = error

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (11, 12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert set(results) == {11, 12}
    for bundle in results.values():
        assert not isinstance(bundle, Exception), repr(bundle)
        assert bundle.metrics["val_accuracy"] > bundle.metrics["majority_baseline"]
    assert results[11].model is not results[12].model
