"""Saving and loading a trained classifier: a folder (or zip) of plain files, never a pickle.

- ``model.h5``: the tf.keras model (configuration and weights, no optimizer state); loads with
  ``custom_objects=activations.custom_objects()``: keras-bert's own (``keras_bert.get_custom_objects()``)
  and, for a model that started from an exact-GELU checkpoint, ``GeluErf`` (``activations``).
- ``vocab.txt``: one token per line, line number = token id.
- ``labels.json``: the class names, in output order.
- ``config.json``: ``{"model": ModelConfig.to_dict(), "training": TrainSettings.to_dict()}``, and
  ``"vocabulary": {"lowercase": ...}`` when the start's tokenizer settings said whether to lower-case.
- ``metrics.json``: evaluation, history and token statistics.
- ``validation.json``: every validation text, its true class and the model's probabilities (what
  the page's mistakes view shows); optional, like ``metrics.json``.
- ``model-int8.tflite``, ``model-fp16.tflite``: the classifier quantised by TensorFlow Lite
  (``model.quantize``; a size ladder writes them). A folder or zip may hold one of them instead of
  ``model.h5``: ``load_bundle`` then runs it with LiteRT, so ``predict`` takes a quantised export.

A zip may come from anyone: only these names are read (no folders, no '..'), sizes are capped,
and the model's configuration may only name keras-bert's own layers and the head's (no Lambda
layer, so no Python code), checked before Keras reads it.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import Vocabulary
from bertviz_core.errors import BundleError, ConfigError, VocabularyError
from bertviz_core.mistakes import ValidationPredictions
from bertviz_core.model import activations, runtime
from bertviz_core.model.classifier import ClassifierBundle

# .h5 is chosen on purpose (what keras-bert users know; no pickled Python); the notice is noise.
warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file", category=UserWarning)

MODEL_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE, METRICS_FILE, VALIDATION_FILE = (
    "model.h5",
    "vocab.txt",
    "labels.json",
    "config.json",
    "metrics.json",
    "validation.json",
)
BUNDLE_FILES = (MODEL_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE, METRICS_FILE, VALIDATION_FILE)
OPTIONAL_FILES = frozenset({METRICS_FILE, VALIDATION_FILE})
QUANTIZED_FILES = {"int8": "model-int8.tflite", "fp16": "model-fp16.tflite"}
# Every name a saved folder or zip may hold: the bundle's, and its quantised models.
ARCHIVE_FILES = BUNDLE_FILES + tuple(QUANTIZED_FILES.values())
# The memory guard keeps trainable models far below this (1200 MB / 16 bytes per parameter
# is 300 MB of fp32 weights).
MAX_BUNDLE_BYTES = 400 * 1024 * 1024
MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024

# Every class a saved classifier's configuration may name: the functional model, keras-bert's
# layers, Keras' Input/Dense/Dropout/Add and their initialisers. Anything else (a Lambda layer
# above all) is refused before Keras reads the file.
ALLOWED_CLASS_NAMES = frozenset(
    {
        "Functional",
        "Model",
        "InputLayer",
        "TokenEmbedding",
        "Embedding",
        "Add",
        "PositionEmbedding",
        "Dropout",
        "LayerNormalization",
        "MultiHeadAttention",
        "FeedForward",
        "GeluErf",  # the exact GELU of encoders that started from such a checkpoint (activations)
        "Extract",  # the head of models saved before the average (model.classifier)
        "GlobalAveragePooling1D",
        "Dense",
        "GlorotUniform",
        "GlorotNormal",
        "Zeros",
        "Ones",
        "RandomUniform",
        "RandomNormal",
        "TruncatedNormal",
        "__tuple__",
    }
)


def save_bundle(bundle: ClassifierBundle, directory: str | Path) -> Path:
    """Write the files into ``directory`` (created if needed) and return it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BundleError(f"{directory} is a file, not a folder; choose a folder for the model.")
    directory.mkdir(parents=True, exist_ok=True)
    bundle.model.save(directory / MODEL_FILE, include_optimizer=False, save_format="h5")
    (directory / VOCAB_FILE).write_text(bundle.vocabulary.to_text(), encoding="utf-8")
    _write_json(directory / LABELS_FILE, list(bundle.class_names))
    config = {"model": bundle.config.to_dict(), "training": bundle.settings}
    if (
        bundle.vocabulary.lowercase is not None
    ):  # a start's own tokenizer setting, not guessable from vocab.txt
        config["vocabulary"] = {"lowercase": bundle.vocabulary.lowercase}
    _write_json(directory / CONFIG_FILE, config)
    _write_json(directory / METRICS_FILE, bundle.metrics)
    if bundle.validation:
        _write_json(directory / VALIDATION_FILE, bundle.validation)
    return directory


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def zip_folder(folder: str | Path, precision: str | None = None) -> bytes:
    """A saved bundle's folder as a zip of its plain names (no folders; no TensorFlow needed); with
    ``precision`` ("int8", "fp16"), its quantised model instead of ``model.h5``."""
    model = MODEL_FILE if precision is None else QUANTIZED_FILES[precision]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in (model, *BUNDLE_FILES[1:]):
            if name in OPTIONAL_FILES and not (Path(folder) / name).is_file():
                continue
            archive.write(Path(folder) / name, arcname=name)
    return buffer.getvalue()


def quantized_in(folder: str | Path) -> list[str]:
    """The precisions whose quantised model ``folder`` holds (``QUANTIZED_FILES``), int8 first."""
    return [precision for precision, name in QUANTIZED_FILES.items() if (Path(folder) / name).is_file()]


@dataclass(frozen=True)
class SavedClassifier:
    """A saved bundle's plain files, read without TensorFlow: what a page shows about a trained model."""

    folder: Path
    config: ModelConfig
    settings: dict
    class_names: tuple[str, ...]
    vocabulary: Vocabulary
    metrics: dict
    validation: ValidationPredictions | None  # None for a bundle saved without validation.json


def read_saved(folder: str | Path) -> SavedClassifier:
    """The plain files of the bundle in ``folder``, checked as ``load_bundle`` checks them."""
    files = _read_folder(Path(folder), MAX_BUNDLE_BYTES, skip=(MODEL_FILE,))
    config, settings, labels, vocabulary, metrics = _read_plain_files(files)
    validation = (
        ValidationPredictions.from_dict(_json(files, VALIDATION_FILE), labels)
        if VALIDATION_FILE in files
        else None
    )
    return SavedClassifier(Path(folder), config, settings, tuple(labels), vocabulary, metrics, validation)


def load_bundle(
    source: str | Path | bytes, max_bytes: int = MAX_BUNDLE_BYTES, precision: str | None = None
) -> ClassifierBundle:
    """Load a bundle from a folder, a zip file's path, or a zip's bytes (an upload).

    ``precision`` ("int8", "fp16") loads that quantised model (``model.quantize.LiteModel``) instead
    of ``model.h5``; without it, ``model.h5``, or the one quantised model a quantised export holds."""
    if precision is not None and precision not in QUANTIZED_FILES:
        raise BundleError(
            f"The precision must be {' or '.join(QUANTIZED_FILES)}, not {str(precision)[:20]!r}."
        )
    if isinstance(source, (bytes, bytearray)):
        return _load_files(
            _read_zip(io.BytesIO(source), "the uploaded file", max_bytes), precision, "the upload"
        )
    path = Path(source)
    if path.is_dir():
        if precision is not None and not (path / QUANTIZED_FILES[precision]).is_file():
            raise BundleError(
                f"The folder {path.name} holds no {precision} model ({QUANTIZED_FILES[precision]}); "
                "train it with the ladder, or leave out the precision."
            )
        return _load_files(_read_folder(path, max_bytes, precision=precision), precision, str(path))
    if path.is_file():
        with path.open("rb") as handle:
            return _load_files(_read_zip(handle, path.name, max_bytes), precision, path.name)
    raise BundleError(f"{source} does not exist; give the folder or zip that 'train --out' wrote.")


def _read_folder(
    folder: Path, max_bytes: int, skip: tuple[str, ...] = (), precision: str | None = None
) -> dict[str, bytes]:
    """The bundle's files in ``folder``; a name in ``skip`` is only checked to exist (read_saved
    has no use for model.h5's megabytes). One model is read: ``precision``'s quantised one, else
    ``model.h5``, else the first quantised one there."""
    names = [name for name in ARCHIVE_FILES if (folder / name).is_file()]
    models = [name for name in names if name == MODEL_FILE or name in QUANTIZED_FILES.values()]
    wanted = QUANTIZED_FILES[precision] if precision is not None else (models[:1] or [MODEL_FILE])[0]
    files = {}
    total = 0
    for name in names:
        path = folder / name
        if name in models and name != wanted:
            continue
        if name in skip:
            files[name] = b""
            continue
        total += path.stat().st_size
        if total > max_bytes:
            raise BundleError(
                f"The files in {folder} are larger than {max_bytes // 2**20:,} MB; this is not a saved classifier."
            )
        files[name] = path.read_bytes()
    return _require_files(files, str(folder))


def _read_zip(handle: Any, label: str, max_bytes: int) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BundleError(
            f"{label} is not a zip file; give the folder 'train --out' wrote or a zip the app exported."
        ) from None
    with archive:
        entries = archive.infolist()
        names = [entry.filename for entry in entries]
        for name in names:
            if name not in ARCHIVE_FILES:
                raise BundleError(
                    f"{label} holds {name[:80]!r}, which is not part of a saved classifier; "
                    f"only {', '.join(ARCHIVE_FILES)} may be in it, with no folders."
                )
        if len(set(names)) != len(names):
            raise BundleError(f"{label} lists a file twice; export the model again.")
        if any(entry.flag_bits & 0x1 for entry in entries):
            raise BundleError(f"{label} is encrypted; export the model again without a password.")
        if sum(entry.file_size for entry in entries) > max_bytes:
            raise BundleError(
                f"{label} unpacks to more than {max_bytes // 2**20:,} MB; this is not a saved classifier."
            )
        files = {}
        remaining = max_bytes
        for entry in entries:
            try:
                with archive.open(entry) as member:
                    # Read one byte past the cap: a header may lie about the size.
                    data = member.read(remaining + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, zlib.error):
                raise BundleError(
                    f"{entry.filename} in {label} is damaged; export the model again."
                ) from None
            remaining -= len(data)
            if remaining < 0:
                raise BundleError(
                    f"{label} unpacks to more than {max_bytes // 2**20:,} MB; this is not a saved classifier."
                )
            files[entry.filename] = data
    return _require_files(files, label)


def _require_files(files: dict[str, bytes], label: str) -> dict[str, bytes]:
    has_model = MODEL_FILE in files or any(name in files for name in QUANTIZED_FILES.values())
    optional = OPTIONAL_FILES | ({MODEL_FILE} if has_model else set())
    missing = [name for name in BUNDLE_FILES if name not in files and name not in optional]
    if missing:
        raise BundleError(f"{label} has no {missing[0]}; give the folder or zip that 'train --out' wrote.")
    for name in (VOCAB_FILE, LABELS_FILE, CONFIG_FILE, METRICS_FILE, VALIDATION_FILE):
        if len(files.get(name, b"")) > MAX_TEXT_FILE_BYTES:
            raise BundleError(f"{name} in {label} is far too large; this is not a saved classifier.")
    return files


def _json(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(f"{name} is not valid JSON; export the model again.") from None


def _load_files(files: dict[str, bytes], precision: str | None = None, label: str = "") -> ClassifierBundle:
    config, settings, labels, vocabulary, metrics = _read_plain_files(files)
    quantized = [name for name in QUANTIZED_FILES.values() if name in files]
    if precision is not None or MODEL_FILE not in files:
        name = QUANTIZED_FILES[precision] if precision is not None else quantized[0]
        if name not in files:
            raise BundleError(
                f"{label or 'The model'} holds no {precision} model ({name}); it has "
                f"{', '.join(quantized + ([MODEL_FILE] if MODEL_FILE in files else []))}."
            )
        from bertviz_core.model.quantize import LiteModel

        model = LiteModel(files[name], config.seq_len, len(labels), f"The file {name}")
    else:
        model = _load_model(files[MODEL_FILE])
        _check_model_matches(model, config, len(labels))
    validation = _json(files, VALIDATION_FILE) if VALIDATION_FILE in files else {}
    if validation:
        ValidationPredictions.from_dict(validation, labels)  # refuses a malformed file in one sentence
    return ClassifierBundle(
        model=model,
        vocabulary=vocabulary,
        class_names=tuple(labels),
        config=config,
        settings=settings,
        metrics=metrics,
        validation=validation,
    )


def _read_plain_files(files: dict[str, bytes]) -> tuple[ModelConfig, dict, list[str], Vocabulary, dict]:
    config_json = _json(files, CONFIG_FILE)
    if not isinstance(config_json, dict) or not isinstance(config_json.get("model"), dict):
        raise BundleError(
            'config.json must hold {"model": {...}, "training": {...}}; export the model again.'
        )
    try:
        config = ModelConfig.from_mapping(config_json["model"])
    except ConfigError as error:
        raise BundleError(f"config.json: {error}") from None
    settings = config_json.get("training") if isinstance(config_json.get("training"), dict) else {}

    labels = _json(files, LABELS_FILE)
    if not (
        isinstance(labels, list) and len(labels) >= 2 and all(isinstance(label, str) for label in labels)
    ):
        raise BundleError("labels.json must be a list of at least two class names; export the model again.")
    if len(set(labels)) != len(labels):
        raise BundleError("labels.json names a class twice; export the model again.")

    casing = config_json.get("vocabulary")
    lowercase = casing.get("lowercase") if isinstance(casing, dict) else None
    try:
        vocabulary = Vocabulary.from_text(
            files[VOCAB_FILE].decode("utf-8"),
            max_size=config.vocab,
            lowercase=lowercase if isinstance(lowercase, bool) else None,
        )
    except UnicodeDecodeError:
        raise BundleError("vocab.txt is not UTF-8 text; export the model again.") from None
    except VocabularyError as error:
        raise BundleError(f"vocab.txt: {error}") from None

    metrics = _json(files, METRICS_FILE) if METRICS_FILE in files else {}
    return config, settings, labels, vocabulary, metrics if isinstance(metrics, dict) else {}


def _class_names_in(value: Any) -> set[str]:
    """Every ``class_name`` anywhere in a Keras model configuration."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                found.add(str(item["class_name"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _load_model(h5_bytes: bytes) -> Any:
    tf = runtime.tensorflow()
    import h5py  # installed with TensorFlow

    with tempfile.TemporaryDirectory(prefix="bertviz-load-") as folder:
        path = Path(folder) / MODEL_FILE
        path.write_bytes(h5_bytes)
        try:
            with h5py.File(path, "r") as handle:
                raw_config = handle.attrs.get("model_config")
        except OSError:
            raise BundleError("model.h5 is not an HDF5 file; export the model again.") from None
        if raw_config is None:
            raise BundleError(
                "model.h5 holds weights but no model configuration; save it again with this app."
            )
        try:
            model_config = json.loads(
                raw_config.decode("utf-8") if isinstance(raw_config, bytes) else raw_config
            )
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BundleError(
                "model.h5 has an unreadable model configuration; export the model again."
            ) from None
        unexpected = sorted(_class_names_in(model_config) - ALLOWED_CLASS_NAMES)
        if unexpected:
            raise BundleError(
                f"model.h5 contains a {unexpected[0]} layer, which a classifier from this app never has; "
                "it was not loaded."
            )
        try:
            return tf.keras.models.load_model(
                path, custom_objects=activations.custom_objects(), compile=False
            )
        except Exception as error:  # Keras raises many types for a damaged file; the user needs one sentence
            raise BundleError(
                f"model.h5 could not be loaded ({type(error).__name__}); export the model again."
            ) from None


def _check_model_matches(model: Any, config: ModelConfig, classes: int) -> None:
    expected_inputs = ["Input-Token", "Input-Segment"]
    input_names = [tensor.name.split(":")[0] for tensor in model.inputs]
    try:
        outputs = int(model.output_shape[-1])
        seq_len = int(model.input_shape[0][1])
        vocab = int(model.get_layer("Embedding-Token").input_dim)
    except (ValueError, TypeError, IndexError, AttributeError):
        raise BundleError("model.h5 is not a keras-bert classifier; export the model again.") from None
    if input_names != expected_inputs or (outputs, seq_len, vocab) != (classes, config.seq_len, config.vocab):
        raise BundleError(
            "model.h5, config.json and labels.json do not belong together (inputs, sequence length, "
            "vocabulary or class count differ); export the model again."
        )
