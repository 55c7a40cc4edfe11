"""The job handle on its own: a finished job shows as over only once what follows its end has run."""

from __future__ import annotations

import threading

from bertviz_core.jobs.protocol import DONE, RUNNING, Batch, Job, JobRequest


def test_a_job_is_over_for_its_readers_only_after_its_done_callbacks_ran():
    job = Job(JobRequest("probe", {}, memory_mb=1))
    job.mark_started()
    release, seen = threading.Event(), []

    def keep(finished: Job) -> None:  # a page's callback that stores the run's model
        seen.append((finished.state, finished.snapshot().state, finished.snapshot().is_over))
        release.wait(5)

    job.add_done_callback(keep)
    finisher = threading.Thread(target=job.finish, args=(DONE, {"x": 1}))
    finisher.start()
    while not seen:
        pass
    assert seen == [(DONE, RUNNING, False)]  # the callback knows; readers do not yet
    assert not job.wait(0.05).is_over
    release.set()
    finisher.join()
    snapshot = job.wait(1)
    assert snapshot.is_over and snapshot.state == DONE and snapshot.result == {"x": 1}
    later = []
    job.add_done_callback(lambda finished: later.append(finished.state))
    assert later == [DONE]  # added after the end: called at once


def test_only_the_latest_batch_event_is_kept_between_others():
    job = Job(JobRequest("probe", {}, memory_mb=1))
    for batch in range(1, 4):
        job.add_event(Batch(1, batch, 3))
    job.add_event("another event")
    job.add_event(Batch(2, 1, 3))
    assert job.snapshot().events == (Batch(1, 3, 3), "another event", Batch(2, 1, 3))
    assert job.snapshot().last_batch().share_done(epochs=2) == 4 / 6
