"""Every start a fine-tuning accepts, read without TensorFlow: Hugging Face folders and zips (the
sentence-transformers layout included), TF1 checkpoints under any prefix, model ids from a hub cache,
and the one-sentence refusals of everything else."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import total_params
from bertviz_core.errors import BundleError
from bertviz_core.model import hub
from bertviz_core.model.checkpoint import GOOGLE, HUGGING_FACE, open_checkpoint, read_checkpoint
from bertviz_core.model.huggingface import ERF_GELU, read_safetensors_header
from tests.model.huggingface_files import hub_cache_with, minilm_folder, write_huggingface_folder

SMALL = ModelConfig(
    vocab=64, seq_len=32, pos_num=32, embed_dim=16, heads=2, layers=2, ff_dim=32, encoder_only=True
)
HF_NEEDED = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json")


def one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message.endswith(".") and "Traceback" not in message, message
    return message


def zip_of(folder: Path, inside: str | None) -> bytes:
    """Every file under ``folder`` (subfolders too), inside one folder ``inside``, as people zip a download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, arcname=f"{inside}/{name}" if inside else name)
    return buffer.getvalue()


def entries_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    return write_huggingface_folder(tmp_path_factory.mktemp("hf") / "tiny-bert", SMALL)


def hf_entries(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


# --- Hugging Face's layout -------------------------------------------------------------------------------
def test_a_hugging_face_folder_is_read_with_its_configuration_vocabulary_and_casing(tmp_path):
    cased = write_huggingface_folder(tmp_path / "cased-bert", SMALL, do_lower_case=False)
    files = open_checkpoint(cased, tmp_path / "stored")
    assert (files.layout, files.name, files.config) == (
        HUGGING_FACE,
        "cased-bert",
        SMALL.with_changes(seq_len=32),
    )
    assert files.vocabulary.word_pieces and len(files.vocabulary) == 64
    # The vocabulary is all lower case; tokenizer_config.json's do_lower_case decides, not a guess.
    assert files.vocabulary.lowercase is False and files.vocabulary.cased
    assert sorted(path.name for path in (tmp_path / "stored").iterdir()) == sorted(HF_NEEDED)
    assert read_checkpoint(tmp_path / "stored", "cased-bert") == files  # the stored start reads back the same


def test_bert_prefixed_weights_without_a_pooler_and_a_vocabulary_only_in_tokenizer_json(tmp_path):
    folder = write_huggingface_folder(
        tmp_path / "for-classification", SMALL, prefix="bert.", pooler=False, vocab_txt=False,
        tokenizer_json=True, do_lower_case=True,
    )  # fmt: skip
    files = open_checkpoint(folder, tmp_path / "stored")
    assert files.vocabulary.lowercase is True and not files.vocabulary.cased  # the normalizer's lowercase
    assert files.vocabulary.tokens[:4] == ("[PAD]", "[unused0]", "[unused1]", "[UNK]")
    assert files.gelu == ERF_GELU  # transformers' "gelu"


def test_a_sentence_transformers_zip_inside_one_folder_keeps_only_what_a_start_needs(tmp_path):
    folder = write_huggingface_folder(tmp_path / "all-tiny-v2", SMALL, sentence_transformers=True)
    (folder / "pytorch_model.bin").write_bytes(b"a pickle, never opened")
    (folder / "2_Normalize").mkdir()
    (folder / "2_Normalize" / "config.json").write_text("{}")
    files = open_checkpoint(zip_of(folder, "all-tiny-v2"), tmp_path / "stored", "all-tiny-v2.zip")
    assert files.name == "all-tiny-v2" and files.layout == HUGGING_FACE
    assert sorted(path.name for path in (tmp_path / "stored").iterdir()) == sorted(HF_NEEDED)


def _config(entries: dict[str, bytes], **changes) -> bytes:
    return json.dumps({**json.loads(entries["config.json"]), **changes}).encode()


def _without(entries: dict[str, bytes], *names: str) -> dict[str, bytes]:
    return {name: value for name, value in entries.items() if name not in names}


def _float64_weights(tmp_path: Path) -> bytes:
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(write_huggingface_folder(tmp_path / "f64", SMALL) / "model.safetensors"))
    weights["embeddings.LayerNorm.weight"] = weights["embeddings.LayerNorm.weight"].astype(np.float64)
    save_file(weights, str(tmp_path / "f64.safetensors"))
    return (tmp_path / "f64.safetensors").read_bytes()


BPE = json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}).encode()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e, t: {**e, "config.json": _config(e, model_type="roberta")}, "describes a RoBERTa model"),
        (
            lambda e, t: {**e, "config.json": _config(e, model_type="distilbert")},
            "describes a DistilBERT model",
        ),
        (
            lambda e, t: {**_without(e, "model.safetensors"), "pytorch_model.bin": b"\x80\x04"},
            "a Python pickle this app never opens",
        ),
        (lambda e, t: _without(e, "model.safetensors"), "no model.safetensors"),
        (lambda e, t: _without(e, "vocab.txt"), "no vocab.txt or tokenizer.json"),
        (lambda e, t: {**_without(e, "vocab.txt"), "tokenizer.json": BPE}, "not BERT's WordPiece"),
        (lambda e, t: {**e, "vocab.txt": e["vocab.txt"][: len(e["vocab.txt"]) // 2]}, "vocab_size 64"),
        (lambda e, t: {**e, "model.safetensors": e["model.safetensors"][:-1000]}, "is cut short"),
        (lambda e, t: {**e, "model.safetensors": e["model.safetensors"][:100]}, "is damaged"),
        (lambda e, t: {**e, "model.safetensors": b"\xff" * 64}, "is damaged"),
        (
            lambda e, t: {**e, "config.json": _config(e, intermediate_size=48)},
            "has shape (32, 16), but config.json implies (48, 16)",
        ),
        (
            lambda e, t: {**e, "config.json": _config(e, num_hidden_layers=3)},
            "has no tensor encoder.layer.2.",
        ),
        (lambda e, t: {**e, "config.json": _config(e, hidden_act="relu")}, "activation 'relu'"),
        (lambda e, t: {**e, "model.safetensors": _float64_weights(t)}, "as F64"),
        (lambda e, t: {**e, "train_script.py": b"import os"}, "not part of a BERT checkpoint"),
        (lambda e, t: {**e, "../config.json": b"{}"}, "outside a checkpoint folder"),
        (lambda e, t: {**e, "a/b/c/vocab.txt": b"x"}, "outside a checkpoint folder"),
        (lambda e, t: {**e, **{f"x/{i}.md": b"" for i in range(70)}}, "lists 74 files"),
    ],
)
def test_a_hugging_face_start_that_cannot_load_is_refused_in_one_sentence(
    hf_folder, tmp_path, change, fragment
):
    with pytest.raises(BundleError) as caught:
        open_checkpoint(
            entries_zip(change(hf_entries(hf_folder), tmp_path)), tmp_path / "stored", "model.zip"
        )
    assert fragment in one_sentence(caught)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    # 131 MiB of zeros deflate to about 130 KB: the zip's own directory already says too much.
    bomb = entries_zip(
        {"config.json": b"{}", "model.safetensors": bytes(131 * 1024 * 1024), "vocab.txt": b"x"}
    )
    assert len(bomb) < 1024 * 1024
    with pytest.raises(BundleError) as caught:
        open_checkpoint(bomb, tmp_path / "stored", "bomb.zip")
    assert "unpacks to more than 130 MB" in one_sentence(caught)
    assert not (tmp_path / "stored" / "model.safetensors").exists()


# --- all-MiniLM-L6-v2, the real thing ------------------------------------------------------------------------
def test_all_minilm_reads_as_a_sentence_transformers_folder_with_its_exact_parameter_count(tmp_path):
    files = open_checkpoint(minilm_folder(), tmp_path / "minilm")
    config = files.config
    assert (config.layers, config.embed_dim, config.heads, config.ff_dim, config.vocab, config.pos_num) == (
        6, 384, 12, 1536, 30522, 512,
    )  # fmt: skip
    assert files.layout == HUGGING_FACE and files.vocabulary.lowercase is True and files.gelu == ERF_GELU
    tensors = read_safetensors_header(tmp_path / "minilm" / "model.safetensors")
    weights = {name: tensor.values for name, tensor in tensors.items() if tensor.dtype == "F32"}
    pooler = sum(count for name, count in weights.items() if name.startswith("pooler."))
    # The arithmetic counts keras-bert's encoder (no pooler); the file also holds the pooler (d*d + d)
    # and transformers' int64 position_ids buffer, which is not a weight.
    assert pooler == 384 * 384 + 384
    assert sum(weights.values()) - pooler == total_params(config) == 22_565_376
    assert sum(weights.values()) == 22_713_216  # the 22.7M of the model card: encoder and pooler
    assert [tensor.dtype for name, tensor in tensors.items() if name not in weights] == ["I64"]
    assert sum(math.prod(t.shape) for t in tensors.values()) == 22_713_216 + 512


def test_reading_a_start_needs_neither_tensorflow_nor_the_weights(tmp_path, repo_root):
    script = (
        "import sys; from bertviz_core.model.checkpoint import open_checkpoint;"
        f"files = open_checkpoint({str(minilm_folder())!r}, {str(tmp_path / 's')!r});"
        "assert files.config.layers == 6;"
        "print(sorted(m for m in ('tensorflow', 'safetensors', 'torch', 'huggingface_hub') if m in sys.modules))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=repo_root, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == "[]"


# --- Google's layout under any prefix (TensorFlow writes the test checkpoints) -----------------------------------
@pytest.fixture(scope="module")
def pretraining_output(tmp_path_factory) -> Path:
    """What run_pretraining.py leaves: two checkpoints, TF's pointer to the later one, a graph, events."""
    from tests.model.checkpoints import write_google_checkpoint

    folder = tmp_path_factory.mktemp("pretraining_output")
    write_google_checkpoint(folder, SMALL, seed=1, prefix="model.ckpt-10")
    write_google_checkpoint(folder, SMALL, seed=2, prefix="model.ckpt-20")
    (folder / "graph.pbtxt").write_text("node {}")
    (folder / "events.out.tfevents.1700000000.host").write_bytes(b"\x00")
    return folder


def _variable(folder: Path, prefix: str, name: str = "bert/embeddings/word_embeddings") -> np.ndarray:
    from bertviz_core.model import runtime

    return runtime.tensorflow().train.load_variable(str(folder / prefix), name)


@pytest.mark.slow
def test_run_pretrainings_output_starts_from_the_checkpoint_tf_names(pretraining_output, tmp_path):
    assert 'model_checkpoint_path: "' in (pretraining_output / "checkpoint").read_text()
    files = open_checkpoint(zip_of(pretraining_output, "pretraining_output"), tmp_path / "s", "out.zip")
    assert files.layout == GOOGLE and files.name == "pretraining_output"
    assert sorted(path.name for path in files.folder.iterdir()) == [
        "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "vocab.txt",
    ]  # fmt: skip
    np.testing.assert_array_equal(
        _variable(files.folder, "bert_model.ckpt"), _variable(pretraining_output, "model.ckpt-20")
    )


@pytest.mark.slow
def test_several_checkpoints_without_a_pointer_are_refused_by_name(pretraining_output, tmp_path):
    entries = {p.name: p.read_bytes() for p in pretraining_output.iterdir() if p.name != "checkpoint"}
    with pytest.raises(BundleError) as caught:
        open_checkpoint(entries_zip(entries), tmp_path / "s", "out.zip")
    assert "several checkpoints (model.ckpt-10, model.ckpt-20)" in one_sentence(caught)
    entries["checkpoint"] = b'model_checkpoint_path: "/tpu/out/model.ckpt-30"\n'
    with pytest.raises(BundleError) as caught:
        open_checkpoint(entries_zip(entries), tmp_path / "t", "out.zip")
    assert "names model.ckpt-30, but there is no model.ckpt-30.index" in one_sentence(caught)


@pytest.mark.slow
def test_a_biobert_style_prefix_is_the_one_checkpoint_present(tmp_path):
    from tests.model.checkpoints import write_google_checkpoint

    folder = write_google_checkpoint(
        tmp_path / "biobert_v1.1_pubmed", SMALL, cased=True, prefix="biobert_model.ckpt"
    )
    (folder / "checkpoint").unlink()
    files = open_checkpoint(folder.parent, tmp_path / "s")  # the folder holding the release's folder
    assert (
        files.name == "biobert_v1.1_pubmed" and files.vocabulary.cased and files.vocabulary.lowercase is None
    )
    np.testing.assert_array_equal(
        _variable(files.folder, "bert_model.ckpt"), _variable(folder, "biobert_model.ckpt")
    )


# --- a model id, from a hub cache this test lays out -------------------------------------------------------------
@pytest.fixture
def offline_hub(monkeypatch):
    """huggingface_hub in offline mode, its endpoint a closed port on this machine: nothing leaves it."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    return monkeypatch


def test_a_model_id_resolves_from_the_hub_cache_offline(offline_hub, hf_folder, tmp_path):
    cache = tmp_path / "hub"
    hub_cache_with(cache, "acme/tiny-bert", hf_folder, HF_NEEDED)
    heard: list[tuple[int, int]] = []
    files = open_checkpoint(
        "acme/tiny-bert",
        tmp_path / "stored",
        hub_cache=cache,
        progress=lambda done, total: heard.append((done, total)),
    )
    assert files.name == "acme/tiny-bert" and files.layout == HUGGING_FACE and files.config.layers == 2
    total = sum((hf_folder / name).stat().st_size for name in HF_NEEDED)
    assert heard == [(total, total)]


def test_a_model_id_not_in_the_cache_gets_one_sentence_offline(offline_hub, tmp_path):
    with pytest.raises(BundleError) as caught:
        open_checkpoint("acme/not-here", tmp_path / "stored", hub_cache=tmp_path / "hub")
    message = one_sentence(caught)
    assert "cannot be reached" in message and "acme/not-here" in message and "upload" in message


def test_an_unreachable_hub_falls_back_to_the_cache(monkeypatch, hf_folder, tmp_path):
    from huggingface_hub import constants

    # Not offline mode: the hub is asked, on a port of this machine where nothing listens.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    hub_cache_with(tmp_path / "hub", "acme/tiny-bert", hf_folder, HF_NEEDED)
    assert open_checkpoint("acme/tiny-bert", tmp_path / "a", hub_cache=tmp_path / "hub").config.layers == 2
    with pytest.raises(BundleError) as caught:
        open_checkpoint("acme/other-bert", tmp_path / "b", hub_cache=tmp_path / "hub")
    assert "cannot be reached" in one_sentence(caught)


def test_download_progress_counts_each_files_furthest_bar_within_the_whole():
    heard: list[tuple[int, int]] = []
    bar_class = hub._bar_class(lambda done, total: heard.append((done, total)), done=100, size=50, total=200)
    transfer, written = bar_class(total=50), bar_class(total=50)  # Xet's two bars for one file
    transfer.update(30)
    written.update(20)  # behind the other: nothing new
    transfer.update(40)  # past the file's size: capped
    assert heard == [(130, 200), (150, 200)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("google/bert_uncased_L-2_H-128_A-2", True), ("sentence-transformers/all-MiniLM-L6-v2", True),
     ("bert-base-uncased", False), ("a/b/c", False), ("../x", False), ("model.zip", False), ("a/b.zip", False)],
)  # fmt: skip
def test_what_reads_as_a_model_id(text, expected):
    assert hub.looks_like_model_id(text) is expected


def test_old_layer_norm_names_and_pretraining_heads_map_onto_googles_names(tmp_path):
    """transformers before 2019 saved LayerNorm.gamma/beta; BertForPreTraining keeps its heads as cls.*,
    without the bert. prefix its encoder and pooler carry."""
    from safetensors.numpy import save_file

    from bertviz_core.model.huggingface import weight_plan
    from tests.model.huggingface_files import bert_weights

    d = SMALL.embed_dim
    weights = {
        "bert."
        + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): value
        for name, value in bert_weights(SMALL, pooler=True).items()
    }
    heads = {"cls.predictions.transform.dense.weight": (d, d), "cls.predictions.transform.dense.bias": (d,),
             "cls.predictions.transform.LayerNorm.weight": (d,), "cls.predictions.transform.LayerNorm.bias": (d,),
             "cls.predictions.bias": (SMALL.vocab,), "cls.seq_relationship.weight": (2, d),
             "cls.seq_relationship.bias": (2,)}  # fmt: skip
    weights.update({name: np.zeros(shape, np.float32) for name, shape in heads.items()})
    save_file(weights, str(tmp_path / "model.safetensors"))
    plan = weight_plan(read_safetensors_header(tmp_path / "model.safetensors"), SMALL)
    assert plan["bert.embeddings.LayerNorm.gamma"] == ("bert/embeddings/LayerNorm/gamma", False)
    assert plan["bert.encoder.layer.1.output.LayerNorm.beta"] == (
        "bert/encoder/layer_1/output/LayerNorm/beta",
        False,
    )
    assert plan["bert.pooler.dense.weight"] == ("bert/pooler/dense/kernel", True)
    assert plan["cls.seq_relationship.weight"] == (
        "cls/seq_relationship/output_weights",
        False,
    )  # (2, d) in both
    assert plan["cls.predictions.bias"] == ("cls/predictions/output_bias", False)
    assert len(plan) == len(weights)  # every tensor of the file is used
