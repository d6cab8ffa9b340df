"""The tier schedule's timing, with a fake clock and sleep (store side: tests/store/test_repository.py)."""

import pytest

from cti.core.errors import UsageError
from cti.tierschedule import TierSchedule


class Stop(BaseException):  # like CancelledError: not caught by the loop
    pass


class FakeTiers:
    def __init__(self, last: float | None, failures: int = 0) -> None:
        self.last = last
        self.failures = failures
        self.runs: list[float] = []
        self.now = 1000.0

    async def computed_at(self) -> float | None:
        return self.last

    async def recompute(self, *, now: float | None = None) -> int:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is down")
        self.runs.append(self.now)
        self.last = self.now
        return 3


async def run(tiers: FakeTiers, interval: float, sleeps: int) -> tuple[TierSchedule, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        if len(slept) == sleeps:
            raise Stop
        slept.append(seconds)
        tiers.now += seconds

    schedule = TierSchedule(tiers, interval, clock=lambda: tiers.now, sleep=sleep)
    with pytest.raises(Stop):
        await schedule.run()
    return schedule, slept


async def test_the_first_run_waits_for_the_last_one_to_be_an_interval_old() -> None:
    tiers = FakeTiers(last=1000.0 - 600)  # recomputed 10 minutes ago, by anyone
    schedule, slept = await run(tiers, 3600.0, sleeps=4)
    assert slept == [3000.0, 3600.0, 0.0, 3600.0]
    assert tiers.runs == [4000.0, 7600.0]
    assert (schedule.tier_runs, schedule.tier_failures) == (2, 0)


async def test_never_computed_runs_at_once_and_a_failure_waits_an_interval() -> None:
    tiers = FakeTiers(last=None, failures=1)
    schedule, slept = await run(tiers, 60.0, sleeps=3)
    assert slept == [0.0, 60.0, 0.0]
    assert (schedule.tier_runs, schedule.tier_failures) == (1, 1)
    assert tiers.runs == [1060.0]


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(UsageError, match="interval > 0"):
        TierSchedule(FakeTiers(None), 0)
