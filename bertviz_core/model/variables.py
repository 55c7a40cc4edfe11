"""BERT's weights by the TF1 names of Google's checkpoints, and their shapes; no TensorFlow.

These are the names keras-bert's ``load_trained_model_from_checkpoint`` reads, so every start is
brought to them: a Google checkpoint holds them already, a Hugging Face one maps onto them
(``huggingface.py``), and the shapes a configuration implies check both.
"""

from __future__ import annotations

from bertviz_core.arithmetic.config import ModelConfig

# The pooler and the two pretraining heads: in a Google release, absent from a bare encoder.
HEADS = (
    "bert/pooler/dense/kernel",
    "bert/pooler/dense/bias",
    "cls/predictions/transform/dense/kernel",
    "cls/predictions/transform/dense/bias",
    "cls/predictions/transform/LayerNorm/gamma",
    "cls/predictions/transform/LayerNorm/beta",
    "cls/predictions/output_bias",
    "cls/seq_relationship/output_weights",
    "cls/seq_relationship/output_bias",
)


def google_shapes(config: ModelConfig, pretraining: bool = False) -> dict[str, tuple[int, ...]]:
    """Every variable keras-bert's loader reads for ``config``, and its shape; with ``pretraining``,
    also the pooler and the MLM and NSP heads (``HEADS``) that ``training=True`` reads."""
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
        shapes.update(head_shapes(config))
    return shapes


def head_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The shapes of ``HEADS`` for ``config``."""
    d = config.embed_dim
    return {
        "bert/pooler/dense/kernel": (d, d),
        "bert/pooler/dense/bias": (d,),
        "cls/predictions/transform/dense/kernel": (d, d),
        "cls/predictions/transform/dense/bias": (d,),
        "cls/predictions/transform/LayerNorm/gamma": (d,),
        "cls/predictions/transform/LayerNorm/beta": (d,),
        "cls/predictions/output_bias": (config.vocab,),
        "cls/seq_relationship/output_weights": (2, d),  # Google keeps this one (classes, d)
        "cls/seq_relationship/output_bias": (2,),
    }
