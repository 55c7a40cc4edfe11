"""The conversion job: a stored Hugging Face start written in Google's layout by a worker process of
the pool, so the web process never imports TensorFlow for it."""

from __future__ import annotations

import json

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.jobs.local import LocalPool
from bertviz_core.jobs.protocol import CONVERT, DONE, FAILED
from bertviz_core.jobs.requests import conversion_request
from bertviz_core.model.checkpoint import GOOGLE, HUGGING_FACE, open_checkpoint, read_checkpoint
from tests.model.huggingface_files import write_huggingface_folder

pytestmark = pytest.mark.slow

TINY = ModelConfig(
    vocab=64, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32, encoder_only=True
)


@pytest.fixture
def pool():
    pool = LocalPool(max_workers=1, budget_mb=100_000)
    yield pool
    pool.shutdown()


def test_a_worker_writes_a_stored_start_in_googles_layout(pool, tmp_path):
    stored = open_checkpoint(write_huggingface_folder(tmp_path / "tiny", TINY), tmp_path / "stored")
    request = conversion_request(
        (stored.folder, stored.name), stored.config, tmp_path / "out", GOOGLE, owner="v"
    )
    assert request.kind == CONVERT and request.interactive and request.owner == "v"
    json.dumps(request.inputs)  # plain data, so it crosses to a worker or a Ray cluster
    snapshot = pool.submit(request).wait(240)
    assert snapshot.state == DONE, snapshot.error
    assert snapshot.result["files"] == [
        "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "tokenizer_config.json",
        "vocab.txt",
    ]  # fmt: skip
    converted = read_checkpoint(snapshot.result["folder"])
    assert converted.layout == GOOGLE and converted.config == stored.config
    # A start whose weights went missing after it was stored fails with the reading's sentence.
    (stored.folder / "model.safetensors").write_bytes(b"")
    failed = pool.submit(
        conversion_request((stored.folder, stored.name), stored.config, tmp_path / "again", HUGGING_FACE)
    ).wait(240)
    assert failed.state == FAILED and "model.safetensors is damaged" in failed.error
