"""Where a fine-tuning starts: a pretrained BERT in Google's layout or Hugging Face's.

Google's released BERTs (the 24 small ones such as ``uncased_L-2_H-128_A-2``, BERT-base,
BERT-large) come as a zip or folder of ``bert_config.json``, ``bert_model.ckpt.*`` and ``vocab.txt``,
sometimes inside one subfolder; run_pretraining.py and BioBERT name the checkpoint otherwise.
Hugging Face's BERTs (``google/bert_uncased_L-2_H-128_A-2``, sentence-transformers'
``all-MiniLM-L6-v2``) come as ``config.json``, ``model.safetensors`` and ``vocab.txt`` or
``tokenizer.json``, as a folder, a zip or a model id on the hub. ``open_checkpoint`` takes any of
them (``unpack.py`` says which names make which layout, ``hub.py`` fetches an id) and stores the
start's files in a folder; ``read_checkpoint`` reads such a folder again.

Reading a start (its configuration, its vocabulary, a safetensors header) needs no TensorFlow: a
page can check an upload and show its configuration before any worker loads it. Loading is
keras-bert's own ``load_trained_model_from_checkpoint`` whatever the source: a Hugging Face start is
first written as a Google checkpoint (``google_layout``, in the worker), so the model code never
knows where its weights came from. Each start keeps the GELU its weights were trained with: a
Hugging Face "gelu" (erf) becomes ``"hidden_act": "gelu_erf"`` in Google's layout, which the loader
builds as ``activations.GeluErf``. ``save_checkpoint`` writes a keras-bert model in Google's layout,
and ``convert_checkpoint`` writes any start in either layout.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_core.arithmetic.bert_config import (
    CONFIG_NAME,
    TANH_GELU,
    bert_config_json,
    gelu_of_config,
    parse_bert_config,
)
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import Vocabulary
from bertviz_core.errors import BundleError, ConfigError, VocabularyError
from bertviz_core.model import activations, hub, huggingface, runtime
from bertviz_core.model.hub import Progress
from bertviz_core.model.unpack import (
    GOOGLE,
    HF_CONFIG,
    HUGGING_FACE,
    PREFIX,
    TOKENIZER_CONFIG,
    VOCAB_NAME,
    unpack_start,
)
from bertviz_core.model.unpack import MAX_CHECKPOINT_MB as MAX_CHECKPOINT_MB  # the page's upload limit
from bertviz_core.model.variables import HEADS, google_shapes

INDEX_NAME, DATA_NAME = f"{PREFIX}.index", f"{PREFIX}.data-00000-of-00001"
NEEDED = (CONFIG_NAME, VOCAB_NAME, INDEX_NAME, DATA_NAME)  # what save_checkpoint writes
LAYOUTS = (GOOGLE, HUGGING_FACE)
# Google's largest vocabulary (multilingual BERT, 119,547 tokens) is under 1 MB.
MAX_VOCAB_BYTES, MAX_VOCAB_TOKENS = 4 * 1024 * 1024, 250_000
_expected_shapes = google_shapes  # the name tests and older callers know


@dataclass(frozen=True)
class CheckpointFiles:
    """A start's files on disk, checked without TensorFlow."""

    folder: Path
    name: str  # the folder's name, as Google names its releases, or the model's id on the hub
    config: ModelConfig  # at the checkpoint's full position count
    vocabulary: Vocabulary
    layout: str = GOOGLE  # how ``folder`` holds the weights: GOOGLE or HUGGING_FACE
    # The GELU the weights were trained with (arithmetic.bert_config): the tanh approximation of Google's
    # BERT code and keras-bert, or the exact erf one of Hugging Face's "gelu" (all-MiniLM-L6-v2).
    gelu: str = TANH_GELU

    @property
    def prefix(self) -> Path:
        """What keras-bert and TensorFlow call the checkpoint file (``.../bert_model.ckpt``); Google's layout only."""
        return self.folder / PREFIX

    def model_config(self, seq_len: int) -> ModelConfig:
        """The encoder fine-tuned at ``seq_len``: keras-bert's loader keeps that many positions."""
        if seq_len > self.config.pos_num:
            raise ConfigError(
                f"{self.name} knows {self.config.pos_num:,} positions, so texts can be at most "
                f"{self.config.pos_num:,} tokens long, not {seq_len:,}."
            )
        return self.config.with_changes(seq_len=seq_len, pos_num=seq_len, encoder_only=True)

    def default_seq_len(self, preferred: int) -> int:
        """``preferred``, or the checkpoint's position count when it knows fewer."""
        return min(preferred, self.config.pos_num)


def started_from(metrics: dict) -> str | None:
    """The checkpoint a trained classifier started from (its metrics' ``start``), None from scratch."""
    start = metrics.get("start") or {}
    return str(start.get("name", "checkpoint")) if start.get("from") == "checkpoint" else None


# --- reading, no TensorFlow ---------------------------------------------------------------------
def open_checkpoint(
    source: bytes | str | Path | Mapping[str, bytes],
    folder: str | Path,
    label: str = "the zip",
    *,
    hub_cache: str | Path | None = None,
    progress: Progress | None = None,
) -> CheckpointFiles:
    """Store a start's files in ``folder`` and read them: a zip (bytes or path), a folder, uploaded
    files (name -> bytes), or, given ``hub_cache``, a Hugging Face model id (fetched into that cache
    with ``progress`` hearing bytes so far and in all). Named as Google names a release (the folder
    the files were in, or the zip's name), or by the model id.

    Raises BundleError in one sentence for anything that is not a BERT start this app can load.
    """
    if (
        isinstance(source, str)
        and hub_cache is not None
        and not Path(source).exists()
        and hub.looks_like_model_id(source)
    ):
        fetched = hub.fetch(source, hub_cache, progress)
        unpack_start(fetched, folder, source)
        return read_checkpoint(folder, source)
    name = unpack_checkpoint(source, folder, label)
    return read_checkpoint(folder, name)


def unpack_checkpoint(
    source: bytes | str | Path | Mapping[str, bytes], folder: str | Path, label: str = "the zip"
) -> str:
    """Copy a start's files from a zip (bytes or path), a folder or uploaded files into ``folder``,
    and return its name (the folder that held the files, else the zip's name).

    Raises BundleError in one sentence for anything that is not a BERT start in a known layout.
    """
    return unpack_start(source, folder, label).name


def read_checkpoint(folder: str | Path, name: str | None = None) -> CheckpointFiles:
    """The configuration and vocabulary of the start stored in ``folder``, checked together (for
    Hugging Face's layout also the safetensors header against the configuration)."""
    folder = Path(folder)
    if (folder / CONFIG_NAME).is_file():
        layout, (config, vocabulary, gelu) = GOOGLE, _read_google(folder)
    elif (folder / HF_CONFIG).is_file():
        config, gelu = huggingface.read_config(folder), huggingface.gelu_of(folder)
        _check_vocabulary_size(config)
        vocabulary = huggingface.read_vocabulary(folder, MAX_VOCAB_BYTES, MAX_VOCAB_TOKENS)
        layout = HUGGING_FACE
    else:
        raise BundleError(f"The checkpoint has no {CONFIG_NAME}; give the whole checkpoint folder or zip.")
    source = CONFIG_NAME if layout == GOOGLE else HF_CONFIG
    if len(vocabulary) != config.vocab:
        raise BundleError(
            f"The vocabulary lists {len(vocabulary):,} tokens but {source} says vocab_size {config.vocab:,}; "
            "the files do not belong together."
        )
    if layout == HUGGING_FACE:  # the weights' names and shapes, from the header alone
        huggingface.weight_plan(huggingface.read_safetensors_header(folder / huggingface.SAFETENSORS), config)
    return CheckpointFiles(folder, name or folder.name, config, vocabulary, layout, gelu)


def _read_google(folder: Path) -> tuple[ModelConfig, Vocabulary, str]:
    for needed in (CONFIG_NAME, VOCAB_NAME, INDEX_NAME):
        if not (folder / needed).is_file():
            raise BundleError(f"The checkpoint has no {needed}; give the whole checkpoint folder or zip.")
    if not any(folder.glob(f"{PREFIX}.data-*")):
        raise BundleError(f"The checkpoint has no {DATA_NAME}; give the whole checkpoint folder or zip.")
    try:
        raw = (folder / CONFIG_NAME).read_bytes()
        config, gelu = parse_bert_config(raw), gelu_of_config(raw)
    except ConfigError as error:
        raise BundleError(str(error)) from None
    _check_vocabulary_size(config)
    if (folder / VOCAB_NAME).stat().st_size > MAX_VOCAB_BYTES:
        raise BundleError(f"{VOCAB_NAME} is far too large; this is not a BERT vocabulary.")
    # Google's layout has no casing setting; a checkpoint converted here keeps Hugging Face's beside it.
    lowercase = huggingface.read_casing(folder)
    try:
        vocabulary = Vocabulary.from_text(
            (folder / VOCAB_NAME).read_bytes().decode("utf-8"), lowercase=lowercase
        )
    except UnicodeDecodeError:
        raise BundleError(f"{VOCAB_NAME} is not UTF-8 text; download the checkpoint again.") from None
    except VocabularyError as error:
        raise BundleError(f"{VOCAB_NAME}: {error}") from None
    return config, vocabulary, gelu


def _check_vocabulary_size(config: ModelConfig) -> None:
    if config.vocab > MAX_VOCAB_TOKENS:
        raise BundleError(
            f"The configuration says vocab_size {config.vocab:,}; Google's largest BERT vocabulary has 119,547 "
            f"tokens, and this app reads at most {MAX_VOCAB_TOKENS:,}."
        )


# --- TensorFlow -------------------------------------------------------------------------------------
def check_weights(files: CheckpointFiles) -> None:
    """Every variable the encoder needs is in the Google checkpoint with the configuration's shape."""
    tf = runtime.tensorflow()
    try:
        found = dict(tf.train.list_variables(str(files.prefix)))
    except Exception:  # TensorFlow raises several types for a damaged index
        raise BundleError(f"{INDEX_NAME} cannot be read; download the checkpoint again.") from None
    for name, shape in google_shapes(files.config).items():
        if name not in found:
            raise BundleError(
                f"The checkpoint has no variable {name}; it is not a BERT checkpoint keras-bert can load."
            )
        if tuple(found[name]) != shape:
            raise BundleError(
                f"The checkpoint's {name} has shape {tuple(found[name])}, but {CONFIG_NAME} implies {shape}; "
                "the files do not belong together."
            )


@contextlib.contextmanager
def google_layout(files: CheckpointFiles) -> Iterator[CheckpointFiles]:
    """``files`` in Google's layout: as they are, or a Hugging Face start written as a Google checkpoint
    in a temporary folder that lasts as long as the block (TensorFlow: in a worker, never a page)."""
    if files.layout == GOOGLE:
        yield files
        return
    with tempfile.TemporaryDirectory(prefix="bertviz-converted-") as temporary:
        write_google_layout(checkpoint_values(files), files.config, files.vocabulary, temporary, files.gelu)
        yield replace(files, folder=Path(temporary), layout=GOOGLE)


def load_encoder(files: CheckpointFiles, seq_len: int) -> Any:
    """keras-bert's encoder with the start's weights (``load_trained_model_from_checkpoint``), with the
    GELU they were trained with (its ``bert_config.json`` names it)."""
    keras_bert = runtime.keras_bert()
    config = files.model_config(seq_len)
    with google_layout(files) as google, activations.erf_gelu_scope():
        check_weights(google)
        try:
            return keras_bert.load_trained_model_from_checkpoint(
                str(google.folder / CONFIG_NAME),
                str(google.prefix),
                training=False,
                trainable=True,
                seq_len=config.seq_len,
            )
        except Exception as error:  # a truncated data file fails inside TensorFlow's reader
            raise BundleError(_cut_short(error)) from None


def _cut_short(error: Exception) -> str:
    return (
        f"The checkpoint's weights could not be read ({type(error).__name__}); the file "
        f"{DATA_NAME} is probably cut short: download the checkpoint again."
    )


def checkpoint_values(files: CheckpointFiles) -> dict[str, np.ndarray]:
    """Every weight of the start under Google's names, as float32: the encoder's, and the pooler and
    pretraining heads where the start has them with the right shapes."""
    if files.layout == HUGGING_FACE:
        return huggingface.google_values(files.folder, files.config)
    check_weights(files)
    tf = runtime.tensorflow()
    found = dict(tf.train.list_variables(str(files.prefix)))
    wanted = google_shapes(files.config, pretraining=True)
    names = [name for name in wanted if name not in HEADS or tuple(found.get(name, ())) == wanted[name]]
    try:
        reader = tf.train.load_checkpoint(str(files.prefix))
        return {name: np.asarray(reader.get_tensor(name), dtype=np.float32) for name in names}
    except Exception as error:  # as in load_encoder: a damaged data file
        raise BundleError(_cut_short(error)) from None


def write_google_layout(
    values: Mapping[str, np.ndarray],
    config: ModelConfig,
    vocabulary: Vocabulary,
    folder: str | Path,
    gelu: str = TANH_GELU,
) -> Path:
    """``values`` (Google's names) as ``bert_model.ckpt.*`` beside ``bert_config.json`` (its ``hidden_act``
    naming ``gelu``, the GELU the weights were trained with) and ``vocab.txt``; where the vocabulary's
    casing is known, also ``tokenizer_config.json`` saying it (Google's layout has no place for it)."""
    tf = runtime.tensorflow()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(values)
    tf.raw_ops.SaveV2(
        prefix=str(folder / PREFIX),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(values[name], dtype=tf.float32) for name in names],
    )
    (folder / CONFIG_NAME).write_text(
        json.dumps(bert_config_json(config, gelu), indent=2) + "\n", encoding="utf-8"
    )
    (folder / VOCAB_NAME).write_text(vocabulary.to_text(), encoding="utf-8")
    if vocabulary.lowercase is not None:
        settings = {"do_lower_case": vocabulary.lowercase}
        (folder / TOKENIZER_CONFIG).write_text(json.dumps(settings) + "\n", encoding="utf-8")
    return folder


def convert_checkpoint(files: CheckpointFiles, out: str | Path, to: str) -> Path:
    """Write the start ``files`` into ``out`` in Google's layout (``GOOGLE``: keras-bert's
    ``load_trained_model_from_checkpoint`` reads it) or Hugging Face's (``HUGGING_FACE``:
    transformers' ``BertModel.from_pretrained`` reads it). TensorFlow: in a worker or the CLI."""
    if to not in LAYOUTS:
        raise BundleError(f"A checkpoint converts to {' or '.join(LAYOUTS)}, not {to[:40]!r}.")
    values = checkpoint_values(files)
    if to == GOOGLE:
        return write_google_layout(values, files.config, files.vocabulary, out, files.gelu)
    return huggingface.write_huggingface(values, files.config, files.vocabulary, Path(out), files.gelu)


def _variables_of(model: Any, config: ModelConfig) -> dict[str, np.ndarray]:
    """The inverse of keras-bert's ``load_model_weights_from_checkpoint``."""

    def weights(name: str) -> list[np.ndarray]:
        return [np.asarray(value) for value in model.get_layer(name).get_weights()]

    values: dict[str, np.ndarray] = {
        "bert/embeddings/word_embeddings": weights("Embedding-Token")[0],
        "bert/embeddings/token_type_embeddings": weights("Embedding-Segment")[0],
        "bert/embeddings/position_embeddings": weights("Embedding-Position")[0],
    }
    values["bert/embeddings/LayerNorm/gamma"], values["bert/embeddings/LayerNorm/beta"] = weights(
        "Embedding-Norm"
    )
    for i in range(config.layers):
        layer, block = f"bert/encoder/layer_{i}", f"Encoder-{i + 1}"
        attention = weights(f"{block}-MultiHeadSelfAttention")
        names = [f"self/{part}/{kind}" for part in ("query", "key", "value") for kind in ("kernel", "bias")]
        names += ["output/dense/kernel", "output/dense/bias"]
        values.update(
            {f"{layer}/attention/{name}": value for name, value in zip(names, attention, strict=True)}
        )
        gamma, beta = weights(f"{block}-MultiHeadSelfAttention-Norm")
        (
            values[f"{layer}/attention/output/LayerNorm/gamma"],
            values[f"{layer}/attention/output/LayerNorm/beta"],
        ) = gamma, beta
        inner_kernel, inner_bias, outer_kernel, outer_bias = weights(f"{block}-FeedForward")
        values[f"{layer}/intermediate/dense/kernel"], values[f"{layer}/intermediate/dense/bias"] = (
            inner_kernel,
            inner_bias,
        )
        values[f"{layer}/output/dense/kernel"], values[f"{layer}/output/dense/bias"] = (
            outer_kernel,
            outer_bias,
        )
        values[f"{layer}/output/LayerNorm/gamma"], values[f"{layer}/output/LayerNorm/beta"] = weights(
            f"{block}-FeedForward-Norm"
        )
    layer_names = {layer.name for layer in model.layers}
    if {"MLM-Dense", "MLM-Norm", "MLM-Sim", "NSP-Dense", "NSP"} <= layer_names:
        values["cls/predictions/transform/dense/kernel"], values["cls/predictions/transform/dense/bias"] = (
            weights("MLM-Dense")
        )
        gamma, beta = weights("MLM-Norm")
        (
            values["cls/predictions/transform/LayerNorm/gamma"],
            values["cls/predictions/transform/LayerNorm/beta"],
        ) = gamma, beta
        (values["cls/predictions/output_bias"],) = weights("MLM-Sim")
        values["bert/pooler/dense/kernel"], values["bert/pooler/dense/bias"] = weights("NSP-Dense")
        nsp_kernel, nsp_bias = weights("NSP")
        values["cls/seq_relationship/output_weights"] = np.transpose(nsp_kernel)
        values["cls/seq_relationship/output_bias"] = nsp_bias
    return values


def save_checkpoint(model: Any, config: ModelConfig, vocabulary: Vocabulary, folder: str | Path) -> Path:
    """Write ``model`` (keras-bert's, with or without the MLM and NSP heads) in Google's layout.

    ``config`` is the model's own (its ``pos_num`` rows of positions are saved); ``vocabulary`` must
    have ``config.vocab`` tokens.
    """
    if len(vocabulary) != config.vocab:
        raise VocabularyError(
            f"The vocabulary has {len(vocabulary):,} tokens but the model {config.vocab:,}."
        )
    return write_google_layout(_variables_of(model, config), config, vocabulary, folder)


def zip_checkpoint(folder: str | Path, inside: str | None = None) -> bytes:
    """The checkpoint's four files as a zip, inside one folder named ``inside`` (as Google zips them)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in NEEDED:
            archive.write(folder / name, arcname=f"{inside}/{name}" if inside else name)
    return buffer.getvalue()
