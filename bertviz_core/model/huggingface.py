"""Hugging Face's BERT layout, read and written without PyTorch: a configuration mapping, a weight
mapping, the tokenizer's vocabulary and casing, and safetensors' header checked against the
configuration.

Hugging Face's ``config.json`` for BERT uses the keys of Google's ``bert_config.json``, and its weight
names map one to one onto Google's TF1 names (``variables.py``), matrices transposed (PyTorch keeps a
dense layer's weight as (out, in)). So a Hugging Face start becomes a Google checkpoint for keras-bert's
own loader, and any start can be written back in this layout, the model code unaware of either.

Reading a folder's configuration, vocabulary and safetensors header needs neither TensorFlow nor the
weights (a page can check an upload); the weights themselves are read with safetensors' NumPy API
(``safe_open(..., framework="numpy")``), in the worker that converts them. Nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertviz_core.arithmetic.bert_config import (
    ERF_GELU,
    GELUS,
    KEYS,
    TANH_GELU,
    config_mapping,
    parse_huggingface_config,
)
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.data.tokens import SPECIAL_TOKENS, Vocabulary
from bertviz_core.errors import BundleError, ConfigError, VocabularyError
from bertviz_core.model.unpack import (
    HF_CONFIG,
    SAFETENSORS,
    SPECIAL_TOKENS_MAP,
    TOKENIZER,
    TOKENIZER_CONFIG,
    VOCAB_NAME,
)
from bertviz_core.model.variables import google_shapes, head_shapes


# --- the configuration mapping: arithmetic.bert_config.parse_huggingface_config ------------------------
def config_from_huggingface(raw: bytes | str | dict) -> ModelConfig:
    """The encoder a Hugging Face BERT ``config.json`` describes (at all of its positions); BundleError
    in one sentence for another architecture or anything keras-bert cannot build."""
    try:
        return parse_huggingface_config(raw)
    except ConfigError as error:
        raise BundleError(str(error)) from None


def gelu_of(folder: Path) -> str:
    """Which GELU the folder's model was trained with (``ERF_GELU`` or ``TANH_GELU``), from ``config.json``."""
    values = config_mapping((folder / HF_CONFIG).read_bytes(), HF_CONFIG)
    return GELUS.get(values.get("hidden_act", "gelu"), TANH_GELU)


def huggingface_config_json(config: ModelConfig, gelu: str = TANH_GELU) -> dict:
    """The ``config.json`` of ``config`` as transformers' ``BertModel`` reads it (keras-bert's dropouts),
    with the GELU the weights were trained with: ``TANH_GELU`` (keras-bert's, Google's) or ``ERF_GELU``."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        **{key: getattr(config, name) for name, key in KEYS.items()},
        "hidden_act": "gelu" if gelu == ERF_GELU else "gelu_new",
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }


# --- the weight mapping --------------------------------------------------------------------------------
# Within a layer, Hugging Face's module path is Google's variable path with dots for slashes.
_DENSE = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
          "intermediate.dense", "output.dense")  # fmt: skip
_NORMS = ("attention.output.LayerNorm", "output.LayerNorm")
# (Hugging Face name, Google name, transposed) of the pooler and the pretraining heads
# (BertForPreTraining keeps the heads without the "bert." prefix).
_HEADS = (
    ("pooler.dense.weight", "bert/pooler/dense/kernel", True),
    ("pooler.dense.bias", "bert/pooler/dense/bias", False),
    ("cls.predictions.transform.dense.weight", "cls/predictions/transform/dense/kernel", True),
    ("cls.predictions.transform.dense.bias", "cls/predictions/transform/dense/bias", False),
    ("cls.predictions.transform.LayerNorm.weight", "cls/predictions/transform/LayerNorm/gamma", False),
    ("cls.predictions.transform.LayerNorm.bias", "cls/predictions/transform/LayerNorm/beta", False),
    ("cls.predictions.bias", "cls/predictions/output_bias", False),
    ("cls.seq_relationship.weight", "cls/seq_relationship/output_weights", False),
    ("cls.seq_relationship.bias", "cls/seq_relationship/output_bias", False),
)


def encoder_names(layers: int) -> list[tuple[str, str, bool]]:
    """(Hugging Face name, Google name, transposed) of every encoder weight, in BertModel's naming."""
    names = [
        (f"embeddings.{kind}_embeddings.weight", f"bert/embeddings/{kind}_embeddings", False)
        for kind in ("word", "position", "token_type")
    ]
    names += [("embeddings.LayerNorm.weight", "bert/embeddings/LayerNorm/gamma", False),
              ("embeddings.LayerNorm.bias", "bert/embeddings/LayerNorm/beta", False)]  # fmt: skip
    for i in range(layers):
        ours, theirs = f"encoder.layer.{i}", f"bert/encoder/layer_{i}"
        for part in _DENSE:
            path = part.replace(".", "/")
            names += [(f"{ours}.{part}.weight", f"{theirs}/{path}/kernel", True),
                      (f"{ours}.{part}.bias", f"{theirs}/{path}/bias", False)]  # fmt: skip
        for norm in _NORMS:
            path = norm.replace(".", "/")
            names += [(f"{ours}.{norm}.weight", f"{theirs}/{path}/gamma", False),
                      (f"{ours}.{norm}.bias", f"{theirs}/{path}/beta", False)]  # fmt: skip
    return names


# --- safetensors' header ------------------------------------------------------------------------------
# Bytes per value of each dtype safetensors names (only float32 and float16 are read as weights).
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip
_READABLE = {"F32": np.float32, "F16": np.float16}
# BERT-large's header is about 50 KB; safetensors itself allows 100 MB.
MAX_HEADER_BYTES = 4 * 1024 * 1024
_OLD_NORM_NAMES = re.compile(r"LayerNorm\.(gamma|beta)$")  # what transformers wrote before 2019


@dataclass(frozen=True)
class Tensor:
    """One entry of a safetensors header."""

    dtype: str
    shape: tuple[int, ...]
    start: int  # offsets in the data that follows the header
    end: int

    @property
    def values(self) -> int:
        return math.prod(self.shape)


def read_safetensors_header(path: str | Path) -> dict[str, Tensor]:
    """Every tensor a safetensors file holds, checked for a whole, consistent file; reads the header only."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little") if size >= 8 else 0
        if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise BundleError(_damaged("its header cannot be read"))
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(_damaged("its header is not valid JSON")) from None
    if not isinstance(header, dict):
        raise BundleError(_damaged("its header is not a table of tensors"))
    tensors: dict[str, Tensor] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(name, entry)
    expected = 0
    for tensor in sorted(tensors.values(), key=lambda t: t.start):
        if tensor.start != expected:  # the format has no holes and no overlaps
            raise BundleError(_damaged("its tensors overlap or leave gaps"))
        expected = tensor.end
    data = size - 8 - length
    if data < expected:
        raise BundleError(
            f"{SAFETENSORS} is cut short ({size:,} bytes where its header describes {8 + length + expected:,}); "
            "download it again."
        )
    if data > expected:
        raise BundleError(_damaged(f"it has {data - expected:,} bytes after its last tensor"))
    return tensors


def _tensor(name: str, entry: object) -> Tensor:
    try:
        dtype, shape, (start, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        valid = (
            dtype in _DTYPE_BYTES
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (*shape, start, end))
            and end - start == math.prod(shape) * _DTYPE_BYTES[dtype]
        )
    except (TypeError, KeyError, ValueError):
        valid = False
    if not valid:
        raise BundleError(_damaged(f"its entry for {str(name)[:80]} is inconsistent"))
    return Tensor(dtype, shape, start, end)


def _damaged(why: str) -> str:
    return f"{SAFETENSORS} is damaged ({why}); download it again."


def weight_plan(tensors: Mapping[str, Tensor], config: ModelConfig) -> dict[str, tuple[str, bool]]:
    """Which tensor of the file becomes which Google variable (and whether it is transposed), every
    shape checked against ``config``: the encoder's weights must all be there, the pooler and the
    pretraining heads are taken when complete. BertModel names its weights ``embeddings...``,
    BertForXxx ``bert.embeddings...``; both read."""
    names = {_OLD_NORM_NAMES.sub(lambda m: "LayerNorm." + ("weight" if m[1] == "gamma" else "bias"), n): n
             for n in tensors}  # fmt: skip
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in names else ""
    shapes = {**google_shapes(config), **head_shapes(config)}
    plan: dict[str, tuple[str, bool]] = {}
    for ours, theirs, transposed in encoder_names(config.layers):
        plan[_checked(names, prefix + ours, shapes[theirs], transposed, tensors, config)] = (
            theirs,
            transposed,
        )
    # The pooler sits beside the encoder ("bert.pooler..." in BertForXxx); BertForPreTraining's heads never
    # carry the prefix. Each is taken only when complete.
    for group, group_prefix in ((_HEADS[:2], prefix), (_HEADS[2:], "")):
        if all(group_prefix + ours in names for ours, _, _ in group):
            for ours, theirs, transposed in group:
                plan[_checked(names, group_prefix + ours, shapes[theirs], transposed, tensors, config)] = (
                    theirs,
                    transposed,
                )
    return plan


def _checked(names: dict[str, str], name: str, shape: tuple[int, ...], transposed: bool,
             tensors: Mapping[str, Tensor], config: ModelConfig) -> str:  # fmt: skip
    """The file's own name for ``name``, its shape and dtype checked."""
    if name not in names:
        raise BundleError(
            f"{SAFETENSORS} has no tensor {name[:80]}, which a BERT of {config.layers} layers needs; "
            f"it and {HF_CONFIG} do not belong together."
        )
    tensor = tensors[names[name]]
    expected = tuple(reversed(shape)) if transposed else shape
    if tensor.shape != expected:
        raise BundleError(
            f"{SAFETENSORS}'s {name[:80]} has shape {tensor.shape}, but {HF_CONFIG} implies {expected}; "
            "the files do not belong together."
        )
    if tensor.dtype not in _READABLE:
        raise BundleError(
            f"{SAFETENSORS} stores {name[:80]} as {tensor.dtype}; this app reads float32 or float16 weights: "
            "save the model in float32 (model.float().save_pretrained(folder))."
        )
    return names[name]


# --- the tokenizer ----------------------------------------------------------------------------------------
MAX_TOKENIZER_BYTES = 16 * 1024 * 1024  # multilingual BERT's tokenizer.json is about 3 MB
MAX_TOKENIZER_CONFIG_BYTES = 1024 * 1024


def read_vocabulary(folder: Path, max_vocab_bytes: int, max_tokens: int) -> Vocabulary:
    """The WordPiece vocabulary (``vocab.txt``, else ``tokenizer.json``'s), lower-casing as the
    tokenizer's own settings say."""
    lowercase, tokenizer = _casing(folder)
    if (folder / VOCAB_NAME).is_file():
        if (folder / VOCAB_NAME).stat().st_size > max_vocab_bytes:
            raise BundleError(f"{VOCAB_NAME} is far too large; this is not a BERT vocabulary.")
        try:
            return Vocabulary.from_text(
                (folder / VOCAB_NAME).read_bytes().decode("utf-8"), lowercase=lowercase
            )
        except UnicodeDecodeError:
            raise BundleError(f"{VOCAB_NAME} is not UTF-8 text; download the model again.") from None
        except VocabularyError as error:
            raise BundleError(f"{VOCAB_NAME}: {error}") from None
    if tokenizer is None:
        raise BundleError(f"The model has no {VOCAB_NAME} or {TOKENIZER}; add the model's vocabulary.")
    model = tokenizer.get("model") if isinstance(tokenizer.get("model"), dict) else {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise BundleError(
            f"{TOKENIZER} holds a {str(model.get('type'))[:40]} tokenizer, not BERT's WordPiece; "
            f"add the model's {VOCAB_NAME}."
        )
    vocab = model["vocab"]
    if len(vocab) > max_tokens:
        raise BundleError(f"{TOKENIZER} lists {len(vocab):,} tokens; this app reads at most {max_tokens:,}.")
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        if not isinstance(index, int) or not 0 <= index < len(tokens) or tokens[index]:
            raise BundleError(
                f"{TOKENIZER}'s vocabulary does not number its tokens 0, 1, 2, ...; download it again."
            )
        # vocab.txt holds one token per line, so a token must be one line without padding.
        if not token or token != token.strip() or len(token.splitlines()) != 1:
            raise BundleError(f"{TOKENIZER}'s vocabulary holds an empty or blank token; download it again.")
        tokens[index] = token
    try:
        return Vocabulary(tuple(tokens), lowercase)
    except VocabularyError as error:
        raise BundleError(f"{TOKENIZER}: {error}") from None


def read_casing(folder: Path) -> bool | None:
    """Whether the folder's tokenizer settings lower-case texts; None where no file says."""
    return _casing(folder)[0]


def _casing(folder: Path) -> tuple[bool | None, dict | None]:
    """Whether the tokenizer lower-cases (``tokenizer_config.json``'s ``do_lower_case`` first, as
    transformers applies it, then ``tokenizer.json``'s normalizer), and ``tokenizer.json`` if any."""
    tokenizer = _json_file(folder / TOKENIZER, MAX_TOKENIZER_BYTES)
    settings = _json_file(folder / TOKENIZER_CONFIG, MAX_TOKENIZER_CONFIG_BYTES) or {}
    if isinstance(settings.get("do_lower_case"), bool):
        return settings["do_lower_case"], tokenizer
    normalizer = (tokenizer or {}).get("normalizer")
    steps = normalizer.get("normalizers", []) if isinstance(normalizer, dict) else []
    for step in [normalizer, *steps]:
        if (
            isinstance(step, dict)
            and step.get("type") == "BertNormalizer"
            and isinstance(step.get("lowercase"), bool)
        ):
            return step["lowercase"], tokenizer
        if isinstance(step, dict) and step.get("type") == "Lowercase":
            return True, tokenizer
    if normalizer is not None and tokenizer is not None:
        return False, tokenizer  # a normalizer that does not lower-case
    return None, tokenizer


def _json_file(path: Path, limit: int) -> dict | None:
    if not path.is_file():
        return None
    if path.stat().st_size > limit:
        raise BundleError(
            f"{path.name} is larger than {limit // (1024 * 1024)} MB; this is not a BERT tokenizer."
        )
    try:
        value = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(f"{path.name} is not valid JSON; download the model again.") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path.name} must hold one JSON object; download the model again.")
    return value


# --- reading and writing the weights -----------------------------------------------------------------
def read_config(folder: Path) -> ModelConfig:
    """``config.json`` of the folder, as ``config_from_huggingface`` reads it."""
    return config_from_huggingface((folder / HF_CONFIG).read_bytes())


def google_values(folder: Path, config: ModelConfig) -> dict[str, np.ndarray]:
    """Every weight of the folder's ``model.safetensors`` under Google's names, as float32."""
    from safetensors import safe_open

    plan = weight_plan(read_safetensors_header(folder / SAFETENSORS), config)
    values: dict[str, np.ndarray] = {}
    with safe_open(str(folder / SAFETENSORS), framework="numpy") as weights:
        for name, (google, transposed) in plan.items():
            value = np.asarray(weights.get_tensor(name), dtype=np.float32)
            if not np.isfinite(value).all():
                raise BundleError(
                    f"{SAFETENSORS}'s {name[:80]} holds NaN or infinite values; download the model again."
                )
            values[google] = np.ascontiguousarray(value.T) if transposed else value
    return values


def write_huggingface(
    values: Mapping[str, np.ndarray],
    config: ModelConfig,
    vocabulary: Vocabulary,
    folder: Path,
    gelu: str = TANH_GELU,
) -> Path:
    """``config.json``, ``model.safetensors`` (BertModel's names: the encoder, and the pooler when
    ``values`` has it), ``vocab.txt``, ``tokenizer_config.json`` and ``special_tokens_map.json``;
    ``gelu`` is the GELU the weights were trained with."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    names = encoder_names(config.layers) + [entry for entry in _HEADS[:2] if entry[1] in values]
    tensors = {
        ours: np.ascontiguousarray(values[theirs].T if transposed else values[theirs], dtype=np.float32)
        for ours, theirs, transposed in names
    }
    # transformers refuses a safetensors file without this metadata ("format": "pt").
    save_file(tensors, str(folder / SAFETENSORS), metadata={"format": "pt"})
    _write_json(folder / HF_CONFIG, huggingface_config_json(config, gelu))
    (folder / VOCAB_NAME).write_text(vocabulary.to_text(), encoding="utf-8")
    unk, cls, sep, mask = "[UNK]", "[CLS]", "[SEP]", "[MASK]"
    specials = {
        "pad_token": SPECIAL_TOKENS[0],
        "unk_token": unk,
        "cls_token": cls,
        "sep_token": sep,
        "mask_token": mask,
    }
    _write_json(
        folder / TOKENIZER_CONFIG,
        {"tokenizer_class": "BertTokenizer", "do_lower_case": not vocabulary.cased,
         "model_max_length": config.pos_num, **specials},
    )  # fmt: skip
    _write_json(folder / SPECIAL_TOKENS_MAP, specials)
    return folder


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
