"""Small BERT checkpoints in Google's layout, written as Google's TF1 code writes them (a
``tf.compat.v1.train.Saver`` over named variables, with its ``.meta`` and ``checkpoint`` files), so
no test needs a download and none relies on this project's own writer."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from bertviz_core.arithmetic.bert_config import bert_config_json
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.model import runtime
from bertviz_core.model.checkpoint import _expected_shapes

# A WordPiece vocabulary laid out like Google's: [PAD], [unused] rows, the specials, words, pieces.
WORDS = ["the", "a", "is", "was", "film", "kettle", "good", "great", "bad", "awful", "love", "hate",
         "very", "and", "it", "this", "boring", "wonderful", "lamp", "soup", "play", "walk", "."]  # fmt: skip
PIECES = ["##s", "##ing", "##ed", "##ly", "##er"]


def google_vocabulary(size: int, cased: bool = False) -> list[str]:
    tokens = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *PIECES]
    if cased:
        tokens += ["The", "Film"]
    tokens += [f"[unused{i}]" for i in range(2, 2 + size - len(tokens))]
    assert len(tokens) == size
    return tokens


def write_google_checkpoint(
    folder: Path,
    config: ModelConfig,
    seed: int = 0,
    cased: bool = False,
    pretraining: bool = True,
    prefix: str = "bert_model.ckpt",
) -> Path:
    """bert_config.json, vocab.txt and ``prefix``.* in ``folder`` (random weights); TF's Saver also
    writes its ``checkpoint`` file naming ``prefix`` (the latest, when called again with another)."""
    tf = runtime.tensorflow()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shapes = _expected_shapes(config, pretraining=pretraining)
    values = {name: rng.normal(0, 0.05, shape).astype(np.float32) for name, shape in shapes.items()}
    with tf.Graph().as_default():
        variables = {name: tf.compat.v1.Variable(value, name=name) for name, value in values.items()}
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / prefix))
    (folder / "bert_config.json").write_text(json.dumps(bert_config_json(config)), encoding="utf-8")
    (folder / "vocab.txt").write_text(
        "\n".join(google_vocabulary(config.vocab, cased)) + "\n", encoding="utf-8"
    )
    return folder


def zipped(folder: Path, inside: str | None = "uncased_L-1_H-16_A-2") -> bytes:
    """The folder as Google zips a release: every file, inside one folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, arcname=f"{inside}/{path.name}" if inside else path.name)
    return buffer.getvalue()
