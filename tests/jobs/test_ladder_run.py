"""A ladder's rungs as jobs (``jobs.ladder_run``), on a pool that finishes jobs while holding its own
lock, as the local pool may: the ladder must never submit or stop from inside that."""

from __future__ import annotations

import threading

from bertviz_core.arithmetic.config import training_default_config
from bertviz_core.errors import MemoryGuardError
from bertviz_core.fields import FINE_TUNE
from bertviz_core.jobs.backend import PoolStatus
from bertviz_core.jobs.ladder_run import WAITING, LadderRun
from bertviz_core.jobs.protocol import DONE, FAILED, QUEUED, STOPPED, TRAIN, Job, JobRequest
from bertviz_core.ladder import LadderPlan, Rung
from tests.helpers import until

PLAN = LadderPlan(
    tuple(
        Rung(f"size {index}", training_default_config(), FINE_TUNE, False, 1000 * (index + 1), 10.0, 900)
        for index in range(5)
    ),  # fmt: skip
    budget_seconds=60,
)


class LockingPool:
    """Submitting, stopping and finishing all take one non-reentrant lock, and a job's done callbacks
    run inside it."""

    def __init__(self, max_workers: int = 2, busy: int = 0, refuse: tuple[int, ...] = ()) -> None:
        self._lock = threading.Lock()
        self.jobs: list[Job] = []
        self.max_workers, self.busy, self.refuse = max_workers, busy, set(refuse)

    def submit(self, request: JobRequest) -> Job:
        if request.inputs["index"] in self.refuse:
            raise MemoryGuardError("This size would need more memory than this app allows.")
        with self._lock:
            job = Job(request, on_stop=self._stopped)
            self.jobs.append(job)
            return job

    def _stopped(self, job: Job) -> None:
        with self._lock:
            job.finish(STOPPED, error="Stopped.")

    def finish(self, job: Job, state: str = DONE) -> None:
        with self._lock:
            job.finish(state, result={"index": job.request.inputs["index"]})

    def status(self) -> PoolStatus:
        return PoolStatus(0, self.busy, 0, self.max_workers, 2000, 0.0, 0.0)

    def running(self) -> list[Job]:
        return [job for job in self.jobs if job.state == QUEUED]


def request_for(index: int, rung: Rung) -> JobRequest:
    return JobRequest(kind=TRAIN, inputs={"index": index, "name": rung.name}, memory_mb=rung.memory_mb)


def climb(pool: LockingPool, parallel: int, finished: list | None = None) -> LadderRun:
    def keep(index: int, job: Job | None) -> None:
        if finished is not None:
            finished.append((index, job.state if job is not None else None))

    return LadderRun(pool, PLAN, request_for, keep, parallel=parallel).start()


def test_rungs_go_in_a_few_at_a_time_smallest_first_each_letting_the_next_in():
    pool, finished = LockingPool(), []
    ladder = climb(pool, parallel=LadderRun.room(pool), finished=finished)
    assert [job.request.inputs["index"] for job in pool.jobs] == [0, 1]  # two free workers: two rungs
    assert [rung.state for rung in ladder.snapshot().rungs] == [QUEUED, QUEUED, WAITING, WAITING, WAITING]
    pool.finish(pool.jobs[0])
    until(lambda: len(pool.jobs) == 3, timeout=10)
    assert pool.jobs[2].request.inputs["index"] == 2
    while not ladder.snapshot().is_over:
        until(lambda: pool.running(), timeout=10)
        pool.finish(pool.running()[0])
    snapshot = ladder.wait(10)
    assert [rung.state for rung in snapshot.rungs] == [DONE] * 5
    assert sorted(finished) == [(index, DONE) for index in range(5)]
    assert [rung.snapshot.result["index"] for rung in snapshot.done] == [0, 1, 2, 3, 4]


def test_a_busy_pool_gets_one_rung_at_a_time():
    assert LadderRun.room(LockingPool(max_workers=2, busy=2)) == 1
    pool = LockingPool()
    climb(pool, parallel=1)
    assert len(pool.jobs) == 1


def test_stop_stops_the_rungs_in_the_pool_and_starts_no_more():
    pool = LockingPool()
    ladder = climb(pool, parallel=2)
    pool.finish(pool.jobs[0])
    until(lambda: len(pool.jobs) == 3, timeout=10)
    ladder.stop()
    snapshot = ladder.wait(10)
    assert [rung.state for rung in snapshot.rungs] == [DONE, STOPPED, STOPPED, STOPPED, STOPPED]
    assert snapshot.stop_requested and len(pool.jobs) == 3
    assert snapshot.rungs[4].error == "Stopped before it started."


def test_a_rung_the_pool_stops_stops_the_ladder():
    """Its visitor left, or it ran out of time: the rest would only be stopped in turn."""
    pool = LockingPool()
    ladder = climb(pool, parallel=1)
    pool.jobs[0].stop()  # as the pool does for a visitor gone
    snapshot = ladder.wait(10)
    assert snapshot.is_over and [rung.state for rung in snapshot.rungs] == [STOPPED] * 5
    assert len(pool.jobs) == 1


def test_a_refused_rung_fails_with_its_sentence_and_the_ladder_goes_on():
    pool, finished = LockingPool(refuse=(1,)), []
    ladder = climb(pool, parallel=2, finished=finished)
    assert (1, None) in finished  # told at once, so what was prepared for it can go
    assert [job.request.inputs["index"] for job in pool.jobs] == [0, 2]
    while not ladder.snapshot().is_over:
        until(lambda: pool.running(), timeout=10)
        pool.finish(pool.running()[0], FAILED if pool.running()[0].request.inputs["index"] == 3 else DONE)
    snapshot = ladder.wait(10)
    assert [rung.state for rung in snapshot.rungs] == [DONE, FAILED, DONE, FAILED, DONE]
    assert snapshot.rungs[1].error == "This size would need more memory than this app allows."
    assert snapshot.counts() == {DONE: 3, FAILED: 2}
