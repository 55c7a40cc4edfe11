"""The server's rate for predicted training times: measured when first needed, measured again when
the load has moved and the rate is a minute old, the old figure kept meanwhile, failures retried later."""

from __future__ import annotations

from dataclasses import dataclass, field

from bertviz_core.errors import UserError
from bertviz_core.jobs.measured_rate import (
    LOAD_CHANGE,
    REFRESH_SECONDS,
    RETRY_SECONDS,
    STARVED_SHARE,
    STARVED_TAKEN,
    MeasuredRate,
    is_stale,
)
from bertviz_core.jobs.protocol import DONE, FAILED


@dataclass
class _Snapshot:
    state: str = "running"
    result: dict | None = None
    error: str | None = None

    @property
    def is_over(self) -> bool:
        return self.state in (DONE, FAILED)


@dataclass
class _Job:
    now: _Snapshot = field(default_factory=_Snapshot)

    def snapshot(self) -> _Snapshot:
        return self.now

    def finish(self, rate: float, load: float, share: float = 0.95) -> None:
        self.now = _Snapshot(DONE, {"flops_per_second": rate, "load_average": load, "cpu_share": share})


class _Machine:
    """A clock, a load average and the jobs submitted, all set by the test."""

    def __init__(self) -> None:
        self.time, self.load, self.jobs = 1000.0, 1.0, []
        self.refuse = False

    def submit(self) -> _Job:
        if self.refuse:
            raise UserError("The server is full.")
        self.jobs.append(_Job())
        return self.jobs[-1]

    def holder(self) -> MeasuredRate:
        return MeasuredRate(self.submit, clock=lambda: self.time, load=lambda: self.load)


def test_staleness_needs_both_age_and_a_moved_load() -> None:
    assert not is_stale(REFRESH_SECONDS - 1, 1.0, 1.0 + 2 * LOAD_CHANGE)
    assert not is_stale(10 * REFRESH_SECONDS, 1.0, 1.0 + LOAD_CHANGE / 2)
    assert is_stale(REFRESH_SECONDS, 3.0, 3.0 - LOAD_CHANGE)
    assert is_stale(REFRESH_SECONDS, 1.0, 1.0 + LOAD_CHANGE)


def test_the_first_measurement_starts_when_asked_and_its_rate_is_kept() -> None:
    machine = _Machine()
    holder = machine.holder()
    assert holder.get(start=False) is None and not machine.jobs
    assert holder.get() is None and len(machine.jobs) == 1
    assert holder.get() is None and len(machine.jobs) == 1  # one measurement at a time
    machine.jobs[0].finish(8e10, load=1.0)
    assert holder.get() == 8e10 and holder.job() is None


def test_a_rate_is_measured_again_when_the_load_moved_and_kept_until_the_new_one_is_in() -> None:
    machine = _Machine()
    holder = machine.holder()
    holder.get()
    machine.jobs[0].finish(8e10, load=1.0)
    assert holder.get() == 8e10
    machine.load = 3.0  # two CPU-bound processes arrived, but the rate is young
    machine.time += REFRESH_SECONDS / 2
    assert holder.get() == 8e10 and len(machine.jobs) == 1
    machine.time += REFRESH_SECONDS / 2
    assert holder.get() == 8e10 and len(machine.jobs) == 2  # measuring again, the old figure meanwhile
    machine.jobs[1].finish(3e10, load=3.0)
    assert holder.get() == 3e10
    machine.time += 10 * REFRESH_SECONDS  # old, but the load has not moved: nothing to measure
    assert holder.get() == 3e10 and len(machine.jobs) == 2
    machine.load = 1.2  # they left
    assert holder.get() == 3e10 and len(machine.jobs) == 3
    machine.jobs[2].finish(7.5e10, load=1.2)
    assert holder.get() == 7.5e10


def test_a_failed_or_refused_measurement_is_tried_again_later_and_keeps_the_old_rate() -> None:
    machine = _Machine()
    machine.refuse = True
    holder = machine.holder()
    assert holder.get() is None and holder.error == "The server is full"
    machine.refuse = False
    machine.time += RETRY_SECONDS - 1
    assert holder.get() is None and not machine.jobs
    machine.time += 1
    holder.get()
    machine.jobs[0].now = _Snapshot(FAILED, error="The worker ran out of memory.")
    assert holder.get() is None and holder.error == "The worker ran out of memory"
    machine.time += RETRY_SECONDS
    holder.get()
    machine.jobs[1].finish(8e10, load=1.0)
    assert holder.get() == 8e10 and holder.error is None
    machine.time, machine.load = machine.time + REFRESH_SECONDS, 4.0
    holder.get()
    machine.jobs[2].now = _Snapshot(FAILED, error="stopped")
    assert holder.get() == 8e10  # the figure stays; the next try waits
    assert len(machine.jobs) == 3


def test_a_measurement_starved_of_the_cpu_is_measured_again_and_taken_only_if_that_lasts() -> None:
    machine = _Machine()
    holder = machine.holder()
    holder.get()
    machine.jobs[0].finish(2e9, load=4.0, share=STARVED_SHARE / 10)  # a burst of other work, for a moment
    assert holder.get() is None and len(machine.jobs) == 2  # not taken: measured again at once
    machine.jobs[1].finish(8e10, load=4.0, share=0.9)
    assert holder.get() == 8e10 and len(machine.jobs) == 2
    # Later, a refresh is starved: the old figure stays, and only three starved ones in a row count.
    machine.time, machine.load = machine.time + REFRESH_SECONDS, 1.0
    for index, rate in enumerate((1e9, 3e9, 2e9)):
        holder.get()
        machine.jobs[-1].finish(rate, load=6.0, share=0.05)
        if index < STARVED_TAKEN - 1:
            assert holder.get() == 8e10
    assert holder.get() == 3e9 and len(machine.jobs) == 2 + STARVED_TAKEN  # the fastest of them
