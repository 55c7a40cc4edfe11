"""A worker builds and traces the model a visitor will likely train while they choose, and the
training of that shape takes it: a real pool, real TensorFlow, a tiny model."""

from __future__ import annotations

import time

import pytest

from bertviz_core.arithmetic.training_memory import TRAINING_RUNTIME_MB
from bertviz_core.jobs.local import LocalPool
from bertviz_core.jobs.protocol import DONE, JobRequest
from bertviz_core.jobs.requests import training_request, training_warm_up
from bertviz_core.settings import TrainSettings
from tests.helpers import separable_dataset
from tests.model.conftest import TINY

pytestmark = pytest.mark.slow

WAIT = 240
SETTINGS = TrainSettings(epochs=2, batch_size=8, learning_rate=0.005, seed=2)


@pytest.fixture
def pool():
    pool = LocalPool(max_workers=2, budget_mb=100_000, tasks_module="tests.jobs.probe_tasks")
    pool.admitted = []  # what the job log says of each admission: pid, warm, kept
    pool._log.write = lambda event, job, **fields: event == "admitted" and pool.admitted.append(fields)
    yield pool
    pool.shutdown()


def stage(snapshot) -> str:
    return snapshot.stage()


def until_warm(pool: LocalPool, timeout_s: float = WAIT) -> None:
    """Until every worker has answered its warm-up with what it holds."""
    deadline = time.monotonic() + timeout_s
    while any(worker.warming for worker in pool._workers):
        assert time.monotonic() < deadline, "the warm-up never ended"
        time.sleep(0.1)


def test_the_training_takes_the_model_a_worker_traced_ahead_and_keeps_it_for_the_next(pool, tmp_path):
    dataset = separable_dataset(64)
    ahead = training_warm_up(TINY, 2, SETTINGS)
    request = training_request(dataset, TINY, SETTINGS, tmp_path / "first")
    assert ahead is not None and request.affinity == ahead.affinity
    pool.prewarm(TRAINING_RUNTIME_MB, ahead)
    pool.prewarm(TRAINING_RUNTIME_MB, ahead)  # the page reruns: one worker, one warm-up
    assert pool.status().workers == 1
    # The visitor reads the page while the worker warms up. Pressed before the worker has even read
    # its warm-up, the training would skip it and build the model itself (by design: a job waiting
    # is never put behind a warm-up), which a slow worker start under load made happen here.
    until_warm(pool)

    first = pool.submit(request).wait(WAIT)
    assert first.state == DONE, first.error
    assert stage(first).startswith("Resetting the model this worker has already built and traced")
    # Another learning rate and batch: the same shape, so the same worker and model again.
    other = TrainSettings(epochs=1, batch_size=16, learning_rate=0.001, seed=2)
    second = pool.submit(training_request(dataset, TINY, other, tmp_path / "second")).wait(WAIT)
    assert second.state == DONE and stage(second).startswith("Resetting")
    (warmed,) = {admission["pid"] for admission in pool.admitted}
    assert [(admission["warm"], admission["kept"]) for admission in pool.admitted] == [(True, True)] * 2
    # A model too big to keep is never traced ahead (nor, by the page, a checkpoint's).
    assert training_warm_up(TINY.with_changes(vocab=200_000, embed_dim=128), 2, SETTINGS) is None


def test_a_job_queued_just_before_the_warm_up_does_not_swallow_it(pool, tmp_path):
    """The page's first render queues its rate measurement and then asks for the warm-up: whether or not
    the pool has started the job yet, the warm-up lands on another worker, and the training finds it."""
    ahead = training_warm_up(TINY, 2, SETTINGS)
    pool.prewarm(TRAINING_RUNTIME_MB)
    busy = pool.submit(JobRequest("probe", {"steps": 40, "seconds": 0.1}, memory_mb=50))
    pool.prewarm(TRAINING_RUNTIME_MB, ahead)
    assert pool.status().workers == 2  # the warm-up went to a worker of its own
    probe = busy.wait(WAIT)
    assert probe.state == DONE
    trained = pool.submit(training_request(separable_dataset(64), TINY, SETTINGS, tmp_path / "run")).wait(
        WAIT
    )
    assert trained.state == DONE and stage(trained).startswith("Resetting")
    assert pool.admitted[-1]["kept"] and pool.admitted[-1]["pid"] != probe.result["pid"]
