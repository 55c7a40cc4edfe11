"""The local job pool with stand-in jobs (no TensorFlow): bounds, queue, stops, crashes, owners.

Every assertion is on outcomes (states, order, sentences, which process ran what), never on
absolute times, so the tests hold on a busy machine. Where a test needs a slow worker (a start-up
or a warm-up longer than a stop or the idle limit), its workers are made slow on purpose
(``slow_start_tasks``, ``slow_warm_tasks``) instead of hoping for load.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid

import psutil
import pytest

from bertviz_core.errors import MemoryGuardError
from bertviz_core.jobs.local import LocalPool
from bertviz_core.jobs.protocol import DONE, FAILED, QUEUED, RUNNING, STOPPED, JobRequest, WarmUp
from tests.helpers import until

WAIT = 60  # seconds a job may take here, on the busiest machine


def probe(memory_mb: int = 50, owner: str = "", interactive: bool = False, **inputs) -> JobRequest:
    return JobRequest(
        "probe", inputs, memory_mb=memory_mb, owner=owner, interactive=interactive, expected_seconds=2
    )


@pytest.fixture
def make_pool():
    pools = []

    def make(**options) -> LocalPool:
        options.setdefault("budget_mb", 100_000)
        options.setdefault("tasks_module", "tests.jobs.probe_tasks")
        marker = uuid.uuid4().hex  # in its workers' environment: tells them from any other process's
        options["environment"] = {**options.get("environment", {}), POOL_MARKER: marker}
        pools.append(LocalPool(**options))
        pools[-1].marker = marker
        return pools[-1]

    yield make
    for pool in pools:
        pool.shutdown()


def test_jobs_run_in_worker_processes_and_report_in_order(make_pool) -> None:
    pool = make_pool(max_workers=2)
    job = pool.submit(probe(steps=4, seconds=0.05))
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["steps"] == 4
    assert [event.step for event in snapshot.events] == [1, 2, 3, 4]
    assert snapshot.result["pid"] != os.getpid()


def test_tensorflows_known_native_notices_stay_out_of_the_server_log(make_pool, capfd) -> None:
    noise = (
        "E0000 00:00:1796684582 29961 util.cc:131] oneDNN supports DT_INT32 only on platforms with AVX-512."
    )
    pool = make_pool(max_workers=1)
    job = pool.submit(probe(native_stderr=[noise, "a real problem, kept"]))
    assert job.wait(WAIT).state == DONE
    printed = []
    until(
        lambda: printed.append(capfd.readouterr().err) or "a real problem, kept" in "".join(printed),
        timeout=10,
    )
    assert "oneDNN supports DT_INT32" not in "".join(printed)


def test_no_more_jobs_run_at_once_than_workers(make_pool) -> None:
    pool = make_pool(max_workers=2)
    jobs = [pool.submit(probe(steps=6, seconds=0.1)) for _ in range(5)]
    most = 0
    while not all(job.snapshot().is_over for job in jobs):
        most = max(most, sum(job.snapshot().state == RUNNING for job in jobs))
        time.sleep(0.02)
    assert most == 2
    assert all(job.snapshot().state == DONE for job in jobs)
    assert len({job.snapshot().result["pid"] for job in jobs}) <= 2 + 1  # workers are reused


def test_the_queue_knows_each_place_and_short_jobs_go_first(make_pool) -> None:
    pool = make_pool(max_workers=1)
    first = pool.submit(probe(steps=20, seconds=0.1))
    until(lambda: first.snapshot().state == RUNNING)
    second, third = pool.submit(probe(steps=1)), pool.submit(probe(steps=1))
    quick = pool.submit(probe(steps=1, interactive=True))
    until(lambda: quick.snapshot().place_in_line == 1)
    assert [job.snapshot().place_in_line for job in (quick, second, third)] == [1, 2, 3]
    waits = [job.snapshot().wait_seconds for job in (quick, second, third)]
    assert waits == sorted(waits) and waits[0] > 0
    for job in (first, second, third, quick):
        job.wait(WAIT)
    assert quick.snapshot().started < second.snapshot().started < third.snapshot().started


def test_a_job_starts_only_when_its_memory_fits_beside_the_others(make_pool) -> None:
    server_mb = psutil.Process().memory_info().rss / 2**20
    # Room for one 900 MB job; a second adds its own 500 MB (TensorFlow's 400 MB of shared library
    # pages are counted once) and would pass the budget.
    pool = make_pool(max_workers=2, budget_mb=int(server_mb + 1100))
    first = pool.submit(probe(memory_mb=900, steps=10, seconds=0.1))
    second = pool.submit(probe(memory_mb=900, steps=1))
    until(lambda: first.snapshot().state == RUNNING)
    assert second.snapshot().state == QUEUED and second.snapshot().place_in_line == 1
    assert second.wait(WAIT).state == DONE
    assert second.snapshot().started >= first.snapshot().finished


def test_two_jobs_fit_where_their_shared_libraries_count_once(make_pool) -> None:
    server_mb = psutil.Process().memory_info().rss / 2**20
    pool = make_pool(max_workers=2, budget_mb=int(server_mb + 1500))  # 400 shared + 2 x 500 of their own
    jobs = [pool.submit(probe(memory_mb=900, steps=10, seconds=0.1)) for _ in range(2)]
    until(lambda: all(job.snapshot().state == RUNNING for job in jobs))
    for job in jobs:
        assert job.wait(WAIT).state == DONE


def test_a_job_that_could_never_fit_is_refused_at_once_in_one_sentence(make_pool) -> None:
    pool = make_pool(budget_mb=500)
    with pytest.raises(MemoryGuardError) as refusal:
        pool.submit(probe(memory_mb=5000))
    message = str(refusal.value)
    assert "5,000 MB" in message and "500 MB" in message and message.endswith(".") and "\n" not in message


def test_stop_removes_a_queued_job_and_ends_a_running_one_keeping_what_it_has(make_pool) -> None:
    pool = make_pool(max_workers=1)
    running = pool.submit(probe(steps=200, seconds=0.05))
    queued = pool.submit(probe(steps=1))
    until(lambda: len(running.snapshot().events) >= 2)
    queued.stop()
    assert queued.wait(WAIT).state == STOPPED and queued.snapshot().started is None
    running.stop()
    snapshot = running.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["stopped"] and snapshot.result["steps"] < 200


def test_a_worker_that_dies_fails_its_job_alone_with_a_sentence(make_pool) -> None:
    pool = make_pool(max_workers=2)
    healthy = pool.submit(probe(steps=10, seconds=0.1))
    doomed = pool.submit(probe(steps=2, seconds=0.05, crash=True))
    assert doomed.wait(WAIT).state == FAILED
    assert "ran out of memory" in doomed.snapshot().error
    assert healthy.wait(WAIT).state == DONE
    assert pool.submit(probe(steps=1)).wait(WAIT).state == DONE  # and the pool goes on


def test_a_jobs_own_refusal_is_its_sentence(make_pool) -> None:
    job = make_pool().submit(probe(fail="The rows are too few; add rows."))
    assert job.wait(WAIT).state == FAILED and job.snapshot().error == "The rows are too few; add rows."


def test_jobs_of_a_visitor_who_left_are_stopped(make_pool) -> None:
    present = {"alice": True, "bob": True}
    pool = make_pool(max_workers=1, owner_alive=present.get)
    alices = pool.submit(probe(owner="alice", steps=400, seconds=0.05))
    bobs_queued = pool.submit(probe(owner="bob", steps=1))
    until(lambda: alices.snapshot().state == RUNNING)
    present["alice"] = False
    assert alices.wait(WAIT).result["stopped"]
    assert bobs_queued.wait(WAIT).state == DONE  # bob is still here: his job runs next
    present["bob"] = False
    gone = pool.submit(probe(owner="bob", steps=1, seconds=0))
    assert gone.wait(WAIT).state in (STOPPED, DONE)


def _alive(pid: int) -> bool:
    """Running, not a zombie (a process that ends between the two looks has ended)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_idle_workers_end_and_give_their_memory_back(make_pool) -> None:
    pool = make_pool(max_workers=2, idle_seconds=1)
    jobs = [pool.submit(probe(steps=2, seconds=0.1, hold_mb=50)) for _ in range(2)]
    pids = {job.wait(WAIT).result["pid"] for job in jobs}
    until(lambda: not any(_alive(pid) for pid in pids))
    # The pool notices an ended worker on its next tick (a zombie counts as ended above).
    until(lambda: pool.status().workers == 0)


def test_workers_run_at_a_lower_cpu_priority_than_the_server(make_pool, monkeypatch) -> None:
    monkeypatch.delenv("BERTVIZ_WORKER_PRIORITY", raising=False)  # the product's default (tests/conftest.py)
    pool = make_pool()
    job = pool.submit(probe(steps=40, seconds=0.05))
    until(lambda: len(job.snapshot().events) >= 1)
    (pid,) = worker_pids(pool)
    idle = os.sched_getscheduler(pid) == os.SCHED_IDLE  # runs only when the server does not need the CPU
    assert idle or psutil.Process(pid).nice() > psutil.Process().nice()
    job.stop()


def test_workers_keep_the_servers_priority_when_told_to(make_pool, monkeypatch) -> None:
    # A machine other programs keep busy: SCHED_IDLE workers would get almost no CPU there.
    monkeypatch.setenv("BERTVIZ_WORKER_PRIORITY", "normal")
    pool = make_pool()
    job = pool.submit(probe(steps=40, seconds=0.05))
    until(lambda: len(job.snapshot().events) >= 1)
    (pid,) = worker_pids(pool)
    assert os.sched_getscheduler(pid) == os.sched_getscheduler(0)
    assert psutil.Process(pid).nice() == psutil.Process().nice()
    job.stop()


def test_a_job_over_its_time_limit_is_stopped(make_pool) -> None:
    pool = make_pool()
    job = pool.submit(
        JobRequest("probe", {"steps": 1000, "seconds": 0.05}, memory_mb=50, time_limit_seconds=1)
    )
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["stopped"] and snapshot.result["steps"] < 1000


POOL_MARKER = "BERTVIZ_TEST_POOL"


def worker_pids(pool: LocalPool) -> list[int]:
    """``pool``'s worker processes, by the marker in their environment (other pools of this test
    process, the page tests' among them, may keep workers of their own)."""
    found = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.environ().get(POOL_MARKER) == pool.marker:
                found.append(child.pid)
    return found


def test_a_stop_during_a_slow_start_is_kept_until_the_job_would_begin(make_pool) -> None:
    """Stop pressed while the job's worker is still starting (importing TensorFlow): the job never
    runs. It used to be sent to a worker with no job yet, dropped, and the job ran to its end."""
    pool = make_pool(tasks_module="tests.jobs.slow_start_tasks")
    job = pool.submit(probe(steps=400, seconds=0.05))
    until(lambda: job.snapshot().state == RUNNING and worker_pids(pool))  # admitted; its worker starting
    assert job.snapshot().started is None  # the clock waits for the worker
    job.stop()
    snapshot = job.wait(WAIT)
    assert snapshot.state == STOPPED and snapshot.error == "Stopped before it started."
    assert snapshot.events == () and snapshot.result is None
    assert pool.submit(probe(steps=2)).wait(WAIT).state == DONE  # the worker, once up, serves the next


def test_a_stop_that_overtakes_its_job_in_the_worker_is_remembered(make_pool, tmp_path) -> None:
    """The job went to a worker still busy with a warm-up: the stop, sent at once, reaches the
    worker before the job begins, and the worker skips the job when it comes to it."""
    gate = tmp_path / "warm-up may end"
    pool = make_pool(tasks_module="tests.jobs.slow_warm_tasks", max_workers=1)
    pool.prewarm(50, WarmUp({"affinity": "warm", "gate": str(gate)}, memory_mb=50, affinity="warm"))
    job = pool.submit(probe(steps=400, seconds=0.05))
    until(lambda: job.snapshot().state == RUNNING)  # given to the warming worker
    job.stop()
    gate.touch()
    snapshot = job.wait(WAIT)
    assert snapshot.state == STOPPED and snapshot.result is None and snapshot.events == ()
    assert pool.submit(probe(steps=2)).wait(WAIT).state == DONE


def test_a_time_limit_counts_from_when_the_worker_begins(make_pool) -> None:
    """A 1-second limit on a job whose worker takes 2.5 s to start: the job still runs, then is
    stopped by its limit (the limit's stop used to be sent during the start-up and dropped)."""
    pool = make_pool(tasks_module="tests.jobs.slow_start_tasks")
    job = pool.submit(
        JobRequest("probe", {"steps": 1000, "seconds": 0.05}, memory_mb=50, time_limit_seconds=1)
    )
    snapshot = job.wait(WAIT)
    assert snapshot.state == DONE and snapshot.result["stopped"]
    assert 0 < snapshot.result["steps"] < 1000


def test_a_worker_warming_up_longer_than_the_idle_limit_is_not_retired(make_pool, tmp_path) -> None:
    """The warm-up outlasts the 1-second idle limit: the worker keeps it, and a training of that
    shape then goes to it. It used to be told to exit mid-warm-up, and the warm-up was lost."""
    gate = tmp_path / "warm-up may end"
    log = []
    pool = make_pool(tasks_module="tests.jobs.slow_warm_tasks", idle_seconds=1)
    pool._log.write = lambda event, job, **fields: log.append((event, fields))
    pool.prewarm(50, WarmUp({"affinity": "shape-a", "gate": str(gate)}, memory_mb=50, affinity="shape-a"))
    until(lambda: worker_pids(pool))
    (warmed,) = worker_pids(pool)
    time.sleep(2.5)  # at least this long: the idle limit has passed twice while the worker warms
    pool.idle_seconds = 3600  # from here on only the warm-up's own end may make it idle
    gate.touch()
    job = pool.submit(JobRequest("probe", {"steps": 1}, memory_mb=50, affinity="shape-a"))
    assert job.wait(WAIT).result["pid"] == warmed
    admitted = [fields for event, fields in log if event == "admitted"]
    assert admitted == [{"pid": warmed, "warm": True, "held_mb": admitted[0]["held_mb"], "kept": True}]
