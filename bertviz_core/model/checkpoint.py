"""BERT checkpoints in Google's layout: ``bert_config.json``, ``bert_model.ckpt.*``, ``vocab.txt``.

Google's released BERTs (the 24 small ones such as ``uncased_L-2_H-128_A-2``, BERT-base,
BERT-large) come as a zip or folder of these files, sometimes inside one subfolder. keras-bert
reads exactly this layout (``load_trained_model_from_checkpoint``), and that is what loads one
here; ``save_checkpoint`` writes the same layout from a keras-bert model, under the variable names
keras-bert's loader reads, so a model pretrained in this app loads back through keras-bert.

Reading a checkpoint's files (``unpack_checkpoint``, ``read_checkpoint``) needs no TensorFlow: a
page can check an upload and show its configuration before any worker loads it. A zip may come
from anyone: only the checkpoint's own names are unpacked, at most one folder deep, sizes capped,
nothing executed (the ``.meta`` graph file is never read).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from bertviz_core.arithmetic.bert_config import CONFIG_NAME, bert_config_json, parse_bert_config
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import Vocabulary
from bertviz_core.errors import BundleError, ConfigError, VocabularyError
from bertviz_core.model import runtime

VOCAB_NAME = "vocab.txt"
PREFIX = "bert_model.ckpt"
INDEX_NAME, DATA_NAME = f"{PREFIX}.index", f"{PREFIX}.data-00000-of-00001"
NEEDED = (CONFIG_NAME, VOCAB_NAME, INDEX_NAME, DATA_NAME)
# Names a released zip also holds, which are skipped: the graph (never read) and TF's pointer file.
SKIPPED = (f"{PREFIX}.meta", "checkpoint")
# Google's BERT-small (L-4, H-512) is 107 MB zipped and 116 MB unpacked: the largest whose
# fine-tuning fits a worker here.
MAX_CHECKPOINT_MB = 110  # the zip (the upload)
MAX_UNPACKED_MB = 130  # its four files
MAX_CHECKPOINT_BYTES = MAX_UNPACKED_MB * 1024 * 1024
# Google's largest vocabulary (multilingual BERT, 119,547 tokens) is under 1 MB.
MAX_VOCAB_BYTES, MAX_VOCAB_TOKENS = 4 * 1024 * 1024, 250_000
# A release zip holds six names; the directory of a zip is read whole before any name is checked,
# and a crafted one with a million entries costs 600 MB and seconds, so it is counted first.
MAX_ZIP_ENTRIES = 64


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint's files on disk, checked without TensorFlow."""

    folder: Path
    name: str  # the folder's name, as Google names its releases
    config: ModelConfig  # at the checkpoint's full position count
    vocabulary: Vocabulary

    @property
    def prefix(self) -> Path:
        """What keras-bert and TensorFlow call the checkpoint file (``.../bert_model.ckpt``)."""
        return self.folder / PREFIX

    def model_config(self, seq_len: int) -> ModelConfig:
        """The encoder fine-tuned at ``seq_len``: keras-bert's loader keeps that many positions."""
        if seq_len > self.config.pos_num:
            raise ConfigError(
                f"{self.name} knows {self.config.pos_num:,} positions, so texts can be at most "
                f"{self.config.pos_num:,} tokens long, not {seq_len:,}."
            )
        return self.config.with_changes(seq_len=seq_len, pos_num=seq_len, encoder_only=True)


def started_from(metrics: dict) -> str | None:
    """The checkpoint a trained classifier started from (its metrics' ``start``), None from scratch."""
    start = metrics.get("start") or {}
    return str(start.get("name", "checkpoint")) if start.get("from") == "checkpoint" else None


# --- reading, no TensorFlow ---------------------------------------------------------------------
def open_checkpoint(
    source: bytes | str | Path, folder: str | Path, label: str = "the zip"
) -> CheckpointFiles:
    """``unpack_checkpoint`` then ``read_checkpoint``, named as Google names the release (the
    folder the files were in, or the zip's name)."""
    name = unpack_checkpoint(source, folder, label)
    return read_checkpoint(folder, name)


def unpack_checkpoint(source: bytes | str | Path, folder: str | Path, label: str = "the zip") -> str:
    """Copy a checkpoint's four files from a zip (bytes or path) or a folder into ``folder``, and
    return the release's name (the folder that held the files, else the zip's name).

    Raises BundleError in one sentence for anything that is not a checkpoint in Google's layout.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        found = _locate(Path(source))
        for name, path in found.items():
            shutil.copyfile(path, folder / name)
        return found[CONFIG_NAME].parent.name
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise BundleError(f"{source} does not exist; give a checkpoint folder or its zip.")
        source, label = (
            path.read_bytes() if path.stat().st_size <= MAX_CHECKPOINT_MB * 1024 * 1024 else b"",
            path.name,
        )
        if not source:
            raise BundleError(
                f"{label} is larger than {MAX_CHECKPOINT_MB} MB; this app fine-tunes the small BERTs."
            )
    if len(source) > MAX_CHECKPOINT_MB * 1024 * 1024:
        raise BundleError(
            f"{label} is larger than {MAX_CHECKPOINT_MB} MB; this app fine-tunes the small BERTs."
        )
    inner = _unzip(source, folder, label)
    return inner or (PurePosixPath(label).stem if label.lower().endswith(".zip") else "checkpoint")


def _locate(root: Path) -> dict[str, Path]:
    """The four files in ``root`` or in its one subfolder that holds them."""
    candidates = [root, *sorted(path for path in root.iterdir() if path.is_dir())]
    for candidate in candidates:
        if (candidate / CONFIG_NAME).is_file():
            missing = [name for name in NEEDED if not (candidate / name).is_file()]
            if missing:
                raise BundleError(
                    f"{candidate.name} has {CONFIG_NAME} but no {missing[0]}; give the whole checkpoint."
                )
            total = sum((candidate / name).stat().st_size for name in NEEDED)
            if total > MAX_CHECKPOINT_BYTES:
                raise BundleError(
                    f"The checkpoint is larger than {MAX_UNPACKED_MB} MB; this app fine-tunes the small BERTs."
                )
            return {name: candidate / name for name in NEEDED}
    raise BundleError(
        f"{root.name} holds no {CONFIG_NAME}; a checkpoint in Google's layout has bert_config.json, "
        "bert_model.ckpt.* and vocab.txt."
    )


def _unzip(payload: bytes, folder: Path, label: str) -> str | None:
    """Unpack the four files; return the one folder they were in, if any."""
    entries = _zip_entry_count(payload)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise BundleError(f"{label} lists {entries:,} files; a BERT checkpoint's zip holds a handful.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, ValueError):
        raise BundleError(f"{label} is not a zip file; give the zip of a checkpoint folder.") from None
    with archive:
        wanted: dict[str, zipfile.ZipInfo] = {}
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            parts = PurePosixPath(entry.filename.replace("\\", "/")).parts
            if ".." in parts or entry.filename.startswith(("/", "\\")) or len(parts) > 2:
                raise BundleError(
                    f"{label} holds {entry.filename[:80]!r}, outside a checkpoint folder; it was not unpacked."
                )
            name = parts[-1]
            if name in SKIPPED or name.startswith("."):
                continue
            if name not in NEEDED:
                raise BundleError(
                    f"{label} holds {name[:80]!r}, which is not part of a BERT checkpoint "
                    f"({', '.join(NEEDED)}); it was not unpacked."
                )
            if name in wanted:
                raise BundleError(f"{label} holds {name} twice; zip one checkpoint folder.")
            wanted[name] = entry
        missing = [name for name in NEEDED if name not in wanted]
        if missing:
            raise BundleError(
                f"{label} has no {missing[0]}; a checkpoint in Google's layout has bert_config.json, "
                "bert_model.ckpt.index, bert_model.ckpt.data-00000-of-00001 and vocab.txt."
            )
        if any(entry.flag_bits & 0x1 for entry in wanted.values()):
            raise BundleError(f"{label} is encrypted; zip the checkpoint again without a password.")
        remaining = MAX_CHECKPOINT_BYTES
        for name, entry in wanted.items():
            if entry.file_size > remaining:
                raise BundleError(
                    f"{label} unpacks to more than {MAX_UNPACKED_MB} MB; this app fine-tunes the small BERTs."
                )
            try:
                with archive.open(entry) as member, open(folder / name, "wb") as target:
                    copied = _copy_at_most(member, target, remaining + 1)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError):
                raise BundleError(f"{name} in {label} is damaged; download the checkpoint again.") from None
            remaining -= copied
            if remaining < 0:
                raise BundleError(
                    f"{label} unpacks to more than {MAX_UNPACKED_MB} MB; this app fine-tunes the small BERTs."
                )
    parents = {PurePosixPath(entry.filename.replace("\\", "/")).parent.name for entry in wanted.values()}
    return parents.pop() if len(parents) == 1 and "" not in parents else None


def _zip_entry_count(payload: bytes) -> int | None:
    """The entry count in a zip's end-of-directory record (None if there is none: not a zip)."""
    tail = payload[-(65535 + 22) :]
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(tail):
        return None
    count = int.from_bytes(tail[end + 10 : end + 12], "little")
    return MAX_ZIP_ENTRIES + 1 if count == 0xFFFF else count  # 0xFFFF: a ZIP64 count, far too many


def _copy_at_most(source: Any, target: Any, limit: int) -> int:
    copied = 0
    while copied < limit:
        chunk = source.read(min(1 << 20, limit - copied))
        if not chunk:
            break
        target.write(chunk)
        copied += len(chunk)
    return copied


def read_checkpoint(folder: str | Path, name: str | None = None) -> CheckpointFiles:
    """The configuration and vocabulary of the unpacked checkpoint in ``folder``, checked together."""
    folder = Path(folder)
    for needed in NEEDED:
        if not (folder / needed).is_file():
            raise BundleError(f"The checkpoint has no {needed}; give the whole checkpoint folder or zip.")
    try:
        config = parse_bert_config((folder / CONFIG_NAME).read_bytes())
    except ConfigError as error:
        raise BundleError(str(error)) from None
    if config.vocab > MAX_VOCAB_TOKENS:
        raise BundleError(
            f"{CONFIG_NAME} says vocab_size {config.vocab:,}; Google's largest BERT vocabulary has 119,547 tokens, "
            f"and this app reads at most {MAX_VOCAB_TOKENS:,}."
        )
    if (folder / VOCAB_NAME).stat().st_size > MAX_VOCAB_BYTES:
        raise BundleError(f"{VOCAB_NAME} is far too large; this is not a BERT vocabulary.")
    try:
        vocabulary = Vocabulary.from_text((folder / VOCAB_NAME).read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{VOCAB_NAME} is not UTF-8 text; download the checkpoint again.") from None
    except VocabularyError as error:
        raise BundleError(f"{VOCAB_NAME}: {error}") from None
    if len(vocabulary) != config.vocab:
        raise BundleError(
            f"{VOCAB_NAME} lists {len(vocabulary):,} tokens but {CONFIG_NAME} says vocab_size {config.vocab:,}; "
            "the files do not belong together."
        )
    return CheckpointFiles(folder, name or folder.name, config, vocabulary)


# --- TensorFlow -------------------------------------------------------------------------------------
def _expected_shapes(config: ModelConfig, pretraining: bool) -> dict[str, tuple[int, ...]]:
    """Every variable keras-bert's loader reads, and its shape, for ``config``."""
    d, f, v = config.embed_dim, config.ff_dim, config.vocab
    shapes: dict[str, tuple[int, ...]] = {
        "bert/embeddings/word_embeddings": (v, d),
        "bert/embeddings/token_type_embeddings": (2, d),
        "bert/embeddings/position_embeddings": (config.pos_num, d),
        "bert/embeddings/LayerNorm/gamma": (d,),
        "bert/embeddings/LayerNorm/beta": (d,),
    }
    for i in range(config.layers):
        layer = f"bert/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            shapes[f"{layer}/attention/self/{part}/kernel"] = (d, d)
            shapes[f"{layer}/attention/self/{part}/bias"] = (d,)
        shapes[f"{layer}/attention/output/dense/kernel"] = (d, d)
        shapes[f"{layer}/attention/output/dense/bias"] = (d,)
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            shapes[f"{layer}/{norm}/gamma"] = (d,)
            shapes[f"{layer}/{norm}/beta"] = (d,)
        shapes[f"{layer}/intermediate/dense/kernel"] = (d, f)
        shapes[f"{layer}/intermediate/dense/bias"] = (f,)
        shapes[f"{layer}/output/dense/kernel"] = (f, d)
        shapes[f"{layer}/output/dense/bias"] = (d,)
    if pretraining:
        shapes.update(
            {
                "cls/predictions/transform/dense/kernel": (d, d),
                "cls/predictions/transform/dense/bias": (d,),
                "cls/predictions/transform/LayerNorm/gamma": (d,),
                "cls/predictions/transform/LayerNorm/beta": (d,),
                "cls/predictions/output_bias": (v,),
                "bert/pooler/dense/kernel": (d, d),
                "bert/pooler/dense/bias": (d,),
                "cls/seq_relationship/output_weights": (2, d),
                "cls/seq_relationship/output_bias": (2,),
            }
        )
    return shapes


def check_weights(files: CheckpointFiles) -> None:
    """Every variable the encoder needs is in the checkpoint with the configuration's shape."""
    tf = runtime.tensorflow()
    try:
        found = dict(tf.train.list_variables(str(files.prefix)))
    except Exception:  # TensorFlow raises several types for a damaged index
        raise BundleError(f"{INDEX_NAME} cannot be read; download the checkpoint again.") from None
    for name, shape in _expected_shapes(files.config, pretraining=False).items():
        if name not in found:
            raise BundleError(
                f"The checkpoint has no variable {name}; it is not a BERT checkpoint keras-bert can load."
            )
        if tuple(found[name]) != shape:
            raise BundleError(
                f"The checkpoint's {name} has shape {tuple(found[name])}, but {CONFIG_NAME} implies {shape}; "
                "the files do not belong together."
            )


def load_encoder(files: CheckpointFiles, seq_len: int) -> Any:
    """keras-bert's encoder with the checkpoint's weights (``load_trained_model_from_checkpoint``)."""
    keras_bert = runtime.keras_bert()
    config = files.model_config(seq_len)
    check_weights(files)
    try:
        return keras_bert.load_trained_model_from_checkpoint(
            str(files.folder / CONFIG_NAME),
            str(files.prefix),
            training=False,
            trainable=True,
            seq_len=config.seq_len,
        )
    except Exception as error:  # a truncated data file fails inside TensorFlow's reader
        raise BundleError(
            f"The checkpoint's weights could not be read ({type(error).__name__}); the file "
            f"{DATA_NAME} is probably cut short: download the checkpoint again."
        ) from None


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
    tf = runtime.tensorflow()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = _variables_of(model, config)
    names = sorted(values)
    tf.raw_ops.SaveV2(
        prefix=str(folder / PREFIX),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(values[name], dtype=tf.float32) for name in names],
    )
    (folder / CONFIG_NAME).write_text(json.dumps(bert_config_json(config), indent=2) + "\n", encoding="utf-8")
    (folder / VOCAB_NAME).write_text(vocabulary.to_text(), encoding="utf-8")
    return folder


def zip_checkpoint(folder: str | Path, inside: str | None = None) -> bytes:
    """The checkpoint's four files as a zip, inside one folder named ``inside`` (as Google zips them)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in NEEDED:
            archive.write(folder / name, arcname=f"{inside}/{name}" if inside else name)
    return buffer.getvalue()
