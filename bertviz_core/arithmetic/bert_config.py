"""Google's ``bert_config.json`` to and from a ``ModelConfig``, without TensorFlow.

A released BERT checkpoint (``uncased_L-2_H-128_A-2``, BERT-base, ...) describes its model in
``bert_config.json``; keras-bert's ``build_model_from_config`` reads the same keys. Only what
keras-bert can build is accepted: GELU, two segment types, a head count that divides the width.

GELU comes in two forms. Google's BERT code and keras-bert compute the tanh approximation, and
Google's configurations call it "gelu"; Hugging Face's "gelu" is the exact one, through erf
(all-MiniLM-L6-v2 among the models trained with it). Google's layout has no name for the exact
form, so a checkpoint whose weights need it says ``"hidden_act": "gelu_erf"`` (``GOOGLE_ACTIVATIONS``):
keras-bert's loader builds it when Keras knows that name (``model.activations.erf_gelu_scope``),
and a reader that does not know it refuses the file instead of computing the approximation.
"""

from __future__ import annotations

import json
from typing import Any

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import ConfigError
from bertviz_core.text import format_bytes

CONFIG_NAME = "bert_config.json"
MAX_CONFIG_BYTES = 64 * 1024
# keras-bert's key for each of our fields (build_model_from_config's mapping).
KEYS = {
    "vocab": "vocab_size",
    "pos_num": "max_position_embeddings",
    "embed_dim": "hidden_size",
    "heads": "num_attention_heads",
    "layers": "num_hidden_layers",
    "ff_dim": "intermediate_size",
}
# The two GELUs (``CheckpointFiles.gelu``), and the ``hidden_act`` Google's layout gives each.
TANH_GELU, ERF_GELU = "tanh", "erf"
GOOGLE_ACTIVATIONS = {"gelu": TANH_GELU, "gelu_erf": ERF_GELU}
GOOGLE_ACTIVATION = {gelu: name for name, gelu in GOOGLE_ACTIVATIONS.items()}


def parse_bert_config(
    raw: bytes | str | dict,
    seq_len: int | None = None,
    encoder_only: bool = True,
    file_name: str = CONFIG_NAME,
) -> ModelConfig:
    """The model a ``bert_config.json`` describes; ``seq_len`` defaults to its position count.

    Hugging Face's BERT ``config.json`` uses the same keys, so it reads here too (``file_name`` is
    the name the sentences give). Raises ConfigError with one sentence naming the key that is wrong.
    """
    values = config_mapping(raw, file_name)
    fields: dict[str, int] = {}
    for name, key in KEYS.items():
        value = values.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{file_name} has no whole number '{key}'; give the file from the checkpoint's folder."
            )
        fields[name] = value
    gelu_of_config(values, file_name)
    if values.get("type_vocab_size", 2) != 2:
        raise ConfigError(
            f"{file_name} has {values.get('type_vocab_size')!r} segment types; keras-bert builds two."
        )
    if seq_len is None:
        seq_len = fields["pos_num"]
    if seq_len > fields["pos_num"]:
        raise ConfigError(
            f"The checkpoint knows {fields['pos_num']:,} positions, so its sequence length can be at most "
            f"{fields['pos_num']:,}, not {seq_len:,}."
        )
    return ModelConfig(seq_len=seq_len, encoder_only=encoder_only, **fields)


def gelu_of_config(raw: bytes | str | dict, file_name: str = CONFIG_NAME) -> str:
    """The GELU a ``bert_config.json`` asks for: ``TANH_GELU`` ("gelu") or ``ERF_GELU`` ("gelu_erf")."""
    activation = config_mapping(raw, file_name).get("hidden_act", "gelu")
    if not isinstance(activation, str) or activation not in GOOGLE_ACTIVATIONS:
        raise ConfigError(
            f"{file_name} asks for the activation '{str(activation)[:40]}'; keras-bert builds BERT with "
            "'gelu' (or this app's 'gelu_erf') only."
        )
    return GOOGLE_ACTIVATIONS[activation]


def bert_config_json(config: ModelConfig, gelu: str = TANH_GELU) -> dict[str, Any]:
    """The ``bert_config.json`` of ``config``, as Google writes it (dropouts as keras-bert's 0.1), its
    ``hidden_act`` naming the GELU the weights were trained with (``TANH_GELU`` or ``ERF_GELU``)."""
    return {
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": GOOGLE_ACTIVATION[gelu],
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "type_vocab_size": 2,
        **{key: getattr(config, name) for name, key in KEYS.items()},
    }


def checkpoint_size_note(config: ModelConfig) -> str:
    """What Google's checkpoint of ``config`` holds and weighs, to compare with the downloaded files.

    A released checkpoint holds the model's weights only, no optimizer state: the encoder, the pooler
    and the MLM and NSP heads, which is keras-bert's ``training=True`` model; its
    ``load_model_weights_from_checkpoint`` sets every weight of that model from the checkpoint.
    """
    pretraining = total_params(config.with_changes(encoder_only=False))
    encoder = total_params(config.with_changes(encoder_only=True))
    pooler = config.embed_dim * config.embed_dim + config.embed_dim
    weights = 4 * pretraining
    return (
        "What to compare next: Google's checkpoints hold the pretraining model, so the total counts the "
        f"MLM and NSP heads: keras-bert's `load_trained_model_from_checkpoint(..., training=True)` fills "
        f"all {pretraining:,} parameters from the checkpoint, the pooler (`NSP-Dense`) included. At 4 bytes "
        f"per fp32 weight, `bert_model.ckpt.data-00000-of-00001` should weigh about {weights:,} bytes "
        f"({format_bytes(weights)}); about three times that means it also holds Adam's two moments per "
        f"weight, as checkpoints saved during training do. With `training=False` keras-bert loads the bare "
        f"encoder, {encoder:,} parameters (turn off 'Count the pretraining heads' to see it); the encoder "
        f"plus the pooler, as Hugging Face's `BertModel` counts it, is {encoder + pooler:,}."
    )


def config_mapping(raw: bytes | str | dict, file_name: str = CONFIG_NAME) -> dict:
    """A configuration file's JSON object (size capped), or ConfigError in one sentence."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, bytes):
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{file_name} is larger than {MAX_CONFIG_BYTES // 1024} KB; this is not a BERT configuration."
            )
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError(
                f"{file_name} is not UTF-8 text; give the file from the checkpoint's folder."
            ) from None
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError):
        raise ConfigError(
            f"{file_name} is not valid JSON; give the file from the checkpoint's folder."
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"{file_name} must hold one JSON object of settings, such as 'hidden_size'.")
    return values


HF_CONFIG = "config.json"  # Hugging Face's name for it


# --- Hugging Face's config.json (the same keys, and a few of its own) ---------------------------------
# model_type of the BERT relatives people try first; each needs code keras-bert does not have.
OTHER_ARCHITECTURES = {
    "roberta": "RoBERTa",
    "xlm-roberta": "XLM-RoBERTa",
    "camembert": "CamemBERT",
    "distilbert": "DistilBERT",
    "albert": "ALBERT",
    "electra": "ELECTRA",
    "deberta": "DeBERTa",
    "deberta-v2": "DeBERTa-v2",
    "mpnet": "MPNet",
    "modernbert": "ModernBERT",
    "xlnet": "XLNet",
    "gpt2": "GPT-2",
    "t5": "T5",
}
EXAMPLE_IDS = "google/bert_uncased_L-2_H-128_A-2 or sentence-transformers/all-MiniLM-L6-v2"
# Hugging Face's names of the two GELUs (arithmetic.bert_config): "gelu" (and "gelu_python") is the exact,
# erf one; "gelu_new" (also "gelu_pytorch_tanh", "gelu_fast") the tanh approximation keras-bert and Google's
# BERT code build. Both load exactly: the erf one as model.activations.GeluErf.
GELUS = {"gelu": ERF_GELU, "gelu_python": ERF_GELU, "gelu_new": TANH_GELU, "gelu_pytorch_tanh": TANH_GELU,
         "gelu_fast": TANH_GELU}  # fmt: skip


def parse_huggingface_config(raw: bytes | str | dict, file_name: str = HF_CONFIG) -> ModelConfig:
    """The encoder a Hugging Face BERT ``config.json`` describes (at all of its positions).

    Raises ConfigError in one sentence for another architecture or anything keras-bert cannot build.
    """
    values = config_mapping(raw, file_name)
    model_type = values.get("model_type")
    architectures = values.get("architectures") or []
    if model_type is None and architectures and all(str(name).startswith("Bert") for name in architectures):
        model_type = "bert"  # configurations written before model_type existed
    if model_type != "bert":
        shown = str(model_type)[:40]
        name = OTHER_ARCHITECTURES.get(shown, shown)
        raise ConfigError(
            f"{file_name} describes a {name} model (model_type '{shown}'), not BERT; this app starts from "
            f"BERT models only (model_type 'bert'), such as {EXAMPLE_IDS}."
        )
    if values.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(
            f"{file_name} asks for '{str(values['position_embedding_type'])[:40]}' position embeddings; "
            "keras-bert builds BERT's absolute ones only."
        )
    if values.get("is_decoder") or values.get("add_cross_attention"):
        raise ConfigError(f"{file_name} describes a BERT decoder; keras-bert builds the encoder only.")
    activation = values.get("hidden_act", "gelu")
    if activation not in GELUS:
        raise ConfigError(
            f"{file_name} asks for the activation '{str(activation)[:40]}'; keras-bert builds BERT with GELU only."
        )
    return parse_bert_config({**values, "hidden_act": "gelu"}, file_name=file_name)


def is_huggingface_config(values: dict) -> bool:
    """Whether a configuration's JSON object is Hugging Face's ``config.json`` (it names its model
    type or architectures) rather than Google's ``bert_config.json``."""
    return "model_type" in values or "architectures" in values


def huggingface_size_note(config: ModelConfig) -> str:
    """What a Hugging Face BERT's ``model.safetensors`` holds and weighs, to compare with the file."""
    encoder = total_params(config.with_changes(encoder_only=True))
    pooler = config.embed_dim * config.embed_dim + config.embed_dim
    weights = 4 * (encoder + pooler)
    return (
        "What to compare next: a Hugging Face `BertModel` holds the encoder and the pooler, "
        f"{encoder:,} + {pooler:,} = {encoder + pooler:,} parameters (the controls show the bare encoder, as "
        f"keras-bert loads it for a classifier). At 4 bytes per fp32 weight, `model.safetensors` should weigh "
        f"about {weights:,} bytes ({format_bytes(weights)}), half that in fp16; a model saved for a task "
        "(`BertForSequenceClassification`) adds its head, and one for pretraining the MLM head."
    )
