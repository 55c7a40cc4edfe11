"""Smaller for real: a trained classifier through TensorFlow Lite's post-training quantisation, the
files measured, and the quantised models run on the validation texts.

Two conversions of the same traced forward pass (``classifier.traced_forward``'s, one text or many):

- ``int8``: dynamic-range quantisation (``tf.lite.Optimize.DEFAULT``): the weights of the matrix
  products and the embedding tables stored as 8-bit integers with a scale per tensor or channel, the
  activations still computed in float. About a quarter of the fp32 file.
- ``fp16``: the weights stored as float16 (``supported_types=[tf.float16]``), computed in float32.

The converted files are run with LiteRT (``ai_edge_litert``, TensorFlow Lite's interpreter, which
TensorFlow's own ``tf.lite.Interpreter`` now points to). A ``LiteModel`` is what ``bundle.load_bundle``
hands ``classifier.predict_proba`` for a quantised bundle, so ``predict`` accepts one like any other.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_core.data.tokens import encode_texts
from bertviz_core.errors import BundleError
from bertviz_core.model import runtime
from bertviz_core.model.bundle import MODEL_FILE, QUANTIZED_FILES
from bertviz_core.model.classifier import (
    TOKEN_DTYPE,
    ClassifierBundle,
    batched_probabilities,
    traced_forward,
)

PRECISIONS = tuple(QUANTIZED_FILES)  # "int8", "fp16"
# One text at a time, as a visitor's "try it" asks: the median of this many, after one warm call.
TIMED_TEXTS = 15


def _converter(bundle: ClassifierBundle, precision: str) -> Any:
    tf = runtime.tensorflow()
    model, seq_len = bundle.model, bundle.config.seq_len
    tokens = tf.TensorSpec([None, seq_len], tf.as_dtype(TOKEN_DTYPE), name="tokens")
    segments = tf.TensorSpec([None, seq_len], tf.as_dtype(TOKEN_DTYPE), name="segments")
    # Named arguments, so the converted model's signature says which input is which.
    forward = tf.function(
        lambda tokens, segments: model({"Input-Token": tokens, "Input-Segment": segments}, training=False),
        input_signature=[tokens, segments],
        autograph=False,  # Keras layers need none; with it, AutoGraph warns about GeluErf's Python
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    return converter


def convert(bundle: ClassifierBundle, precision: str) -> bytes:
    """The classifier as a TensorFlow Lite flatbuffer, its weights in ``precision`` (``PRECISIONS``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    logger = runtime.tensorflow().get_logger()
    level = logger.level
    # The converter reloads the model it saved on the way and tf-keras warns that the reloaded copy's
    # metrics are not built; nothing here uses them.
    logger.setLevel(logging.ERROR)
    try:
        return bytes(_converter(bundle, precision).convert())
    finally:
        logger.setLevel(level)


class LiteModel:
    """A converted classifier, run by LiteRT; one per loaded file (an interpreter is not shared
    between threads, so calls take a lock)."""

    def __init__(
        self, flatbuffer: bytes, seq_len: int, classes: int, label: str = "The quantised model"
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=flatbuffer)
            runner = interpreter.get_signature_runner()
            inputs = runner.get_input_details()
        except (ValueError, RuntimeError):
            raise BundleError(
                f"{label} is not a TensorFlow Lite model this app wrote; export it again."
            ) from None
        if set(inputs) != {"tokens", "segments"} or list(inputs["tokens"]["shape_signature"]) != [
            -1,
            seq_len,
        ]:
            raise BundleError(f"{label} does not take {seq_len:,} token ids per text; export it again.")
        self._interpreter, self._runner = interpreter, runner
        self.seq_len, self.classes, self.file_bytes = seq_len, classes, len(flatbuffer)
        self._lock = threading.Lock()
        self._ran = False

    def forward(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities of a batch, from the same ``{"Input-Token", "Input-Segment"}`` a Keras call takes."""
        tokens = np.ascontiguousarray(inputs["Input-Token"], dtype=TOKEN_DTYPE)
        segments = np.ascontiguousarray(inputs["Input-Segment"], dtype=TOKEN_DTYPE)
        with self._lock, runtime.quiet_native_stderr() if not self._ran else contextlib.nullcontext():
            output = self._runner(tokens=tokens, segments=segments)  # the first call prints a notice
            self._ran = True
        probabilities = next(iter(output.values()))
        if probabilities.shape != (len(tokens), self.classes):
            raise BundleError("The quantised model's output does not match its labels; export it again.")
        return probabilities


@dataclass(frozen=True)
class Quantized:
    """One precision of a classifier: the file's bytes, and its scores on the validation texts."""

    precision: str
    file_bytes: int
    val_accuracy: float | None  # None without validation texts
    agreement: float | None  # share of validation texts where it picks the float model's class
    predict_ms_per_text: float | None
    seconds: float  # the conversion


def timed_ms_per_text(forward: Callable[[dict], Any], token_ids: np.ndarray) -> float | None:
    """Median milliseconds of ``forward`` on one text at a time (``TIMED_TEXTS`` of ``token_ids``,
    after one call that pays any tracing); None without texts."""
    if len(token_ids) == 0:
        return None
    rows = [token_ids[index : index + 1] for index in range(min(TIMED_TEXTS, len(token_ids)))]
    np.asarray(forward({"Input-Token": rows[0], "Input-Segment": np.zeros_like(rows[0])}))
    times = []
    for row in rows:
        started = time.perf_counter()
        np.asarray(forward({"Input-Token": row, "Input-Segment": np.zeros_like(row)}))
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


@dataclass(frozen=True)
class QuantizationReport:
    """What ``quantize`` measured: the float model's own figures, then each precision's."""

    model_bytes: int  # model.h5 as saved
    val_accuracy: float | None
    predict_ms_per_text: float | None
    quantized: dict[str, Quantized]

    def to_dict(self) -> dict:
        """JSON-ready: ``int8_bytes``, ``int8_val_accuracy``, ... beside the float model's figures."""
        figures: dict[str, Any] = {
            "model_bytes": self.model_bytes,
            "predict_ms_per_text": self.predict_ms_per_text,
        }
        for precision, result in self.quantized.items():
            figures[f"{precision}_bytes"] = result.file_bytes
            figures[f"{precision}_val_accuracy"] = result.val_accuracy
            figures[f"{precision}_agreement"] = result.agreement
            figures[f"{precision}_predict_ms_per_text"] = result.predict_ms_per_text
            figures[f"{precision}_seconds"] = round(result.seconds, 3)
        return figures


def validation_token_ids(bundle: ClassifierBundle) -> tuple[np.ndarray, np.ndarray]:
    """The bundle's validation texts encoded as it encodes them, and their true classes."""
    validation = bundle.validation or {}
    texts = list(validation.get("texts", ()))
    encoded = encode_texts(bundle.vocabulary, texts, bundle.config.seq_len)
    token_ids = np.asarray(encoded.token_ids, dtype=TOKEN_DTYPE).reshape(len(texts), bundle.config.seq_len)
    labels = np.asarray(validation.get("true", ()), dtype=np.int64)
    return token_ids, labels


def quantize(
    bundle: ClassifierBundle,
    folder: str | Path,
    precisions: Iterable[str] = PRECISIONS,
    keep: Iterable[str] = PRECISIONS,
) -> QuantizationReport:
    """Convert the classifier saved in ``folder`` (``bundle``'s) to each of ``precisions``, write the
    files of those in ``keep`` beside ``model.h5`` (``bundle.QUANTIZED_FILES``), and measure each on
    the bundle's validation texts: accuracy, agreement with the float model, milliseconds per text."""
    folder, keep = Path(folder), set(keep)
    token_ids, labels = validation_token_ids(bundle)
    classes = len(bundle.class_names)
    float_forward = traced_forward(bundle.model, bundle.config.seq_len)
    float_predicted = batched_probabilities(float_forward, token_ids, classes).argmax(axis=1)
    results = {}
    for precision in precisions:
        started = time.perf_counter()
        flatbuffer = convert(bundle, precision)
        seconds = time.perf_counter() - started
        lite = LiteModel(flatbuffer, bundle.config.seq_len, classes)
        predicted = batched_probabilities(lite.forward, token_ids, classes).argmax(axis=1)
        results[precision] = Quantized(
            precision,
            len(flatbuffer),
            _share(predicted == labels),
            _share(predicted == float_predicted),
            timed_ms_per_text(lite.forward, token_ids),
            seconds,
        )
        if precision in keep:
            (folder / QUANTIZED_FILES[precision]).write_bytes(flatbuffer)
    return QuantizationReport(
        model_bytes=(folder / MODEL_FILE).stat().st_size,
        val_accuracy=_share(float_predicted == labels),
        predict_ms_per_text=timed_ms_per_text(float_forward, token_ids),
        quantized=results,
    )


def _share(hits: np.ndarray) -> float | None:
    return round(float(hits.mean()), 6) if len(hits) else None
