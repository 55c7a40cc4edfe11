"""The Ray job backend on Ray started on this machine: the local pool's checks with stand-in jobs
(no TensorFlow), and one real TensorFlow build through Ray.

Ray starts once for the module (a few seconds) and stops after it. Without Ray installed the module
is skipped (it is an optional dependency: ``requirements-ray.txt``), except in CI (``CI=true``),
where that is a failure. As in the local pool's tests, every assertion is on outcomes (states,
order, sentences, which process ran what), never on absolute times.
"""

from __future__ import annotations

import os

import psutil
import pytest

from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.errors import MemoryGuardError
from bertviz_core.jobs.protocol import DONE, FAILED, QUEUED, RUNNING, STOPPED, Job, JobRequest
from bertviz_core.jobs.requests import build_request
from tests.helpers import until

pytestmark = pytest.mark.slow

WAIT = 60  # seconds a stand-in job may take here, on the busiest machine
BUILD_WAIT = 240  # a worker's first TensorFlow import and a real build
CPUS = 2
BUDGET_MB = 3000  # Ray's memory for jobs: a real build (700 MB estimated) and stand-ins beside it


def probe(memory_mb: int = 50, owner: str = "", interactive: bool = False, **inputs) -> JobRequest:
    return JobRequest(
        "probe", inputs, memory_mb=memory_mb, owner=owner, interactive=interactive, expected_seconds=2
    )


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def ray_pool():
    """One pool, and so one local Ray, for the whole module: starting Ray takes seconds."""
    try:
        import ray  # noqa: F401
    except ImportError:
        reason = "Ray is not installed (pip install -r requirements-ray.txt); the Ray job backend is optional"
        if _running_in_ci():
            pytest.fail(reason + " (CI=true, so these tests may not be skipped)")
        pytest.skip(reason)
    from bertviz_core.jobs.ray_backend import RayPool

    # Ray's workers inherit the environment Ray starts with: the product's default priority, not the
    # suite's (tests/conftest.py), since a test below checks it.
    suite_priority = os.environ.pop("BERTVIZ_WORKER_PRIORITY", None)
    try:
        shared = RayPool(
            address=None, num_cpus=CPUS, budget_mb=BUDGET_MB, tasks_module="tests.jobs.probe_tasks"
        )
    finally:
        if suite_priority is not None:
            os.environ["BERTVIZ_WORKER_PRIORITY"] = suite_priority
    yield shared
    shared.shutdown()


@pytest.fixture
def pool(ray_pool):
    """The shared pool, left as each test found it: its jobs ended, its settings back."""
    submitted: list[Job] = []
    submit = ray_pool.submit

    def recording_submit(request: JobRequest) -> Job:
        submitted.append(submit(request))
        return submitted[-1]

    ray_pool.submit = recording_submit
    grace = ray_pool.stop_grace_seconds
    yield ray_pool
    ray_pool.submit = submit
    for job in submitted:
        job.stop()
    for job in submitted:
        job.wait(WAIT)
    ray_pool.owner_alive, ray_pool.stop_grace_seconds = None, grace


def test_jobs_run_on_ray_workers_and_report_in_order_while_they_run(pool) -> None:
    pool.prewarm(800)  # does nothing on Ray, and says so; it must not fail
    job = pool.submit(probe(steps=30, seconds=0.05))
    until(lambda: len(job.snapshot().events) >= 3)
    assert job.snapshot().state == RUNNING  # events arrive while the job runs, not with its outcome
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["steps"] == 30
    assert [event.step for event in snapshot.events] == list(range(1, 31))
    assert snapshot.result["pid"] != os.getpid()


def test_no_more_jobs_run_than_cpus_and_stop_cancels_a_queued_job_and_ends_a_running_one(pool) -> None:
    running = [pool.submit(probe(steps=400, seconds=0.05)) for _ in range(CPUS)]
    queued = pool.submit(probe(steps=1))
    # Long enough for the running tasks to have talked to the mailbox many times: a task waiting on
    # Ray (ray.get) lends its CPU to the next task, which would then start here.
    until(lambda: all(len(job.snapshot().events) >= 10 for job in running))
    assert queued.snapshot().state == QUEUED and not queued.snapshot().events
    assert queued.snapshot().place_in_line == 1
    status = pool.status()
    assert (status.busy, status.queued, status.max_workers) == (CPUS, 1, CPUS)
    pids = [job.snapshot().events[0].pid for job in running]
    assert len(set(pids)) == CPUS and os.getpid() not in pids
    # Below the web server: SCHED_IDLE where Linux allows it, else a higher niceness.
    assert all(
        os.sched_getscheduler(pid) == os.SCHED_IDLE or psutil.Process(pid).nice() > psutil.Process().nice()
        for pid in pids
    )

    queued.stop()
    assert queued.wait(WAIT).state == STOPPED and queued.snapshot().started is None
    assert queued.snapshot().error == "Stopped before it started."
    for job in running:
        job.stop()
    for job in running:
        snapshot = job.wait(WAIT)
        assert snapshot.state == DONE and snapshot.result["stopped"] and snapshot.result["steps"] < 400
        assert snapshot.result["pid"] in pids


def test_a_worker_that_dies_fails_its_job_alone_with_a_sentence(pool) -> None:
    healthy = pool.submit(probe(steps=10, seconds=0.1))
    doomed = pool.submit(probe(steps=2, seconds=0.05, crash=True))
    snapshot = doomed.wait(WAIT)
    assert snapshot.state == FAILED
    assert [event.step for event in snapshot.events] in ([], [1], [1, 2])  # in order, if sent in time
    assert snapshot.error.startswith("The worker running this job was lost")
    assert snapshot.error.endswith(".") and "\n" not in snapshot.error
    assert healthy.wait(WAIT).state == DONE
    assert pool.submit(probe(steps=1)).wait(WAIT).state == DONE  # and the pool goes on (Ray retried nothing)


def test_a_jobs_own_refusal_is_its_sentence(pool) -> None:
    job = pool.submit(probe(fail="The rows are too few; add rows."))
    assert job.wait(WAIT).state == FAILED and job.snapshot().error == "The rows are too few; add rows."


def test_a_job_that_could_never_fit_is_refused_at_once_in_one_sentence(pool) -> None:
    assert pool.budget_mb() == BUDGET_MB
    with pytest.raises(MemoryGuardError) as refusal:
        pool.submit(probe(memory_mb=BUDGET_MB + 1))
    message = str(refusal.value)
    assert f"{BUDGET_MB + 1:,} MB" in message and f"{BUDGET_MB:,} MB" in message
    assert message.endswith(".") and "\n" not in message


def test_a_job_over_its_time_limit_is_stopped(pool) -> None:
    job = pool.submit(
        JobRequest("probe", {"steps": 1000, "seconds": 0.05}, memory_mb=50, time_limit_seconds=1)
    )
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["stopped"] and snapshot.result["steps"] < 1000


def test_a_job_that_does_not_stop_is_ended_after_the_grace(pool) -> None:
    pool.stop_grace_seconds = 1.0
    stubborn = pool.submit(probe(steps=1, seconds=120))  # asleep: it cannot see the stop
    until(lambda: stubborn.snapshot().state == RUNNING)
    stubborn.stop()
    snapshot = stubborn.wait(WAIT)
    assert (
        snapshot.state == STOPPED
        and snapshot.error == "The job did not stop in time, so its worker was ended."
    )
    assert pool.submit(probe(steps=1)).wait(WAIT).state == DONE


def test_jobs_of_a_visitor_who_left_are_stopped(pool) -> None:
    present = {"alice": True, "bob": True}
    pool.owner_alive = present.get
    alices = [pool.submit(probe(owner="alice", steps=1000, seconds=0.05)) for _ in range(CPUS)]
    bobs_queued = pool.submit(probe(owner="bob", steps=1))
    until(lambda: all(job.snapshot().state == RUNNING for job in alices))
    present["alice"] = False
    for job in alices:
        snapshot = job.wait(WAIT)
        assert snapshot.state == DONE and snapshot.result["stopped"]
    assert bobs_queued.wait(WAIT).state == DONE  # bob is still here: his job runs next
    present["bob"] = False
    gone = pool.submit(probe(owner="bob", steps=1, seconds=0))
    assert gone.wait(WAIT).state in (STOPPED, DONE)


def test_a_real_tensorflow_build_runs_through_ray(pool) -> None:
    config = ModelConfig(vocab=100, seq_len=8, pos_num=8, embed_dim=8, heads=2, layers=1, ff_dim=16)
    snapshot = pool.submit(build_request(config)).wait(BUILD_WAIT)
    assert snapshot.state == DONE, snapshot.error
    assert snapshot.result["verify"]["matches"] is True
