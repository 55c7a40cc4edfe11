"""The pretraining job: its request (memory, time) and its task, run in a worker process of the pool
the way the page runs it, reporting the events a training reports."""

from __future__ import annotations

import json

import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.training_memory import pretraining_job_mb
from bertviz_core.jobs.local import LocalPool
from bertviz_core.jobs.protocol import DONE, PRETRAIN, STOPPED, Batch, Epoch, Stage
from bertviz_core.jobs.requests import pretraining_request
from bertviz_core.model.checkpoint import read_checkpoint
from bertviz_core.model.pretraining import EPOCH_KEYS, PRETRAINING_FILE
from bertviz_core.settings import TrainSettings
from tests.helpers import until

pytestmark = pytest.mark.slow

TINY = ModelConfig(
    vocab=64, seq_len=16, pos_num=16, embed_dim=16, heads=2, layers=1, ff_dim=32, encoder_only=True
)
TEXTS = [
    f"the {animal} sat on the {thing}" for animal in ("cat", "dog", "bird") for thing in ("mat", "rug")
] * 8
WAIT = 240


@pytest.fixture
def pool():
    pool = LocalPool(max_workers=1, budget_mb=100_000)
    yield pool
    pool.shutdown()


def test_the_request_carries_the_texts_and_the_pretraining_models_memory(tmp_path):
    settings = TrainSettings(epochs=3, batch_size=8)
    request = pretraining_request(TEXTS, TINY, settings, tmp_path, owner="visitor")
    assert request.kind == PRETRAIN == "pretrain" and request.owner == "visitor"
    assert request.inputs["texts"] == TEXTS and request.inputs["folder"] == str(tmp_path)
    assert request.inputs["config"]["encoder_only"] is False  # the model with its MLM and NSP heads
    assert request.memory_mb == pretraining_job_mb(TINY, 8)
    assert request.expected_seconds > 15 and not request.interactive
    json.dumps(request.inputs)  # plain data, so it crosses to a worker or a Ray cluster


def test_the_task_reports_stage_batches_and_epochs_and_saves_a_checkpoint(pool, tmp_path):
    settings = TrainSettings(epochs=2, batch_size=8, learning_rate=0.005)
    job = pool.submit(pretraining_request(TEXTS, TINY, settings, tmp_path / "checkpoint"))
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE, snapshot.error
    kinds = [type(event) for event in snapshot.events]
    assert kinds[0] is Stage and kinds.count(Epoch) == 2 and Batch in kinds
    records = snapshot.epochs()
    assert all(set(EPOCH_KEYS) <= set(record) for record in records)
    result = snapshot.result
    assert result["history"] == records and result["texts"] == len(TEXTS)
    assert result["folder"] == str(tmp_path / "checkpoint")
    files = read_checkpoint(result["folder"])
    assert files.config == TINY.with_changes(encoder_only=True)
    assert (tmp_path / "checkpoint" / PRETRAINING_FILE).is_file()


def test_stop_keeps_the_last_complete_epoch(pool, tmp_path):
    many = TEXTS * 40  # 1,920 texts: 240 batches an epoch, long enough to stop in the second
    settings = TrainSettings(epochs=50, batch_size=8, learning_rate=0.005)
    job = pool.submit(pretraining_request(many, TINY, settings, tmp_path / "checkpoint"))
    until(lambda: job.snapshot().epochs(), timeout=WAIT)
    job.stop()
    snapshot = job.wait(WAIT)
    assert snapshot.state in (DONE, STOPPED), snapshot.error
    assert snapshot.result is not None and snapshot.result["stopped_by_user"]
    assert snapshot.result["kept_epoch"] == len(snapshot.result["history"]) >= 1
    assert read_checkpoint(snapshot.result["folder"]).config.vocab == 64
