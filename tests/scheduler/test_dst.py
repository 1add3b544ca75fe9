"""The DST rule through the real tick: each trigger is ticked at every one of its slots across a clock change.

A wall-clock time in the spring gap fires once, at the first instant after it; a fixed time that occurs twice in
the autumn fires once, at its first occurrence; an hourly schedule follows real time through both.
"""

from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import Routine, Trigger
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import default_pool, tick
from tests.scheduler.conftest import Schedules, iso, utc

AMSTERDAM = "Europe/Amsterdam"
NEW_YORK = "America/New_York"
HOURLY = "0 * * * *"


def every_hour(first: datetime, last: datetime) -> list[str]:
    return [iso(first + timedelta(hours=n)) for n in range((last - first) // timedelta(hours=1) + 1)]


def drive(schedules: Schedules, triggers: list[tuple[Routine, Trigger]], until: datetime) -> list[list[str]]:
    """Ticks 20 s after each stored nextRunAt until all are past `until`; returns each routine's scheduledFor."""
    with default_pool() as pool:
        while (moment := min(schedules.next_run_at(trigger) or "~" for _, trigger in triggers)) <= iso(until):
            tick(
                frozen_at(datetime.fromisoformat(moment) + timedelta(seconds=20)), runtime.new_id, pool, budget=100_000
            )
    return [[run.scheduled_for or "" for run in schedules.runs(routine)] for routine, _ in triggers]


@pytest.mark.parametrize(
    ("tz", "cron", "made_at", "until", "expected"),
    [
        pytest.param(AMSTERDAM, "30 2 * * *", utc(2026, 3, 27, 12), utc(2026, 3, 30, 12),
                     [iso(utc(2026, 3, 28, 1, 30)), iso(utc(2026, 3, 29, 1)), iso(utc(2026, 3, 30, 0, 30))],
                     id="Amsterdam spring: 02:30 fires at 03:00 CEST"),
        pytest.param(NEW_YORK, "30 2 * * *", utc(2026, 3, 6, 12), utc(2026, 3, 9, 12),
                     [iso(utc(2026, 3, 7, 7, 30)), iso(utc(2026, 3, 8, 7)), iso(utc(2026, 3, 9, 6, 30))],
                     id="New York spring: 02:30 fires at 03:00 EDT"),
        pytest.param(AMSTERDAM, "30 2 * * *", utc(2026, 10, 23, 12), utc(2026, 10, 26, 12),
                     [iso(utc(2026, 10, 24, 0, 30)), iso(utc(2026, 10, 25, 0, 30)), iso(utc(2026, 10, 26, 1, 30))],
                     id="Amsterdam autumn: the repeated 02:30 fires once"),
        pytest.param(NEW_YORK, "30 1 * * *", utc(2026, 10, 30, 12), utc(2026, 11, 2, 12),
                     [iso(utc(2026, 10, 31, 5, 30)), iso(utc(2026, 11, 1, 5, 30)), iso(utc(2026, 11, 2, 6, 30))],
                     id="New York autumn: the repeated 01:30 fires once"),
    ],
)  # fmt: skip
def test_a_tick_at_every_slot_fires_each_slot_of_a_clock_change_once(
    schedules: Schedules, tz: str, cron: str, made_at: datetime, until: datetime, expected: list[str]
) -> None:
    made = schedules.scheduled(cron, made_at, tz)

    [fired] = drive(schedules, [made], until)

    assert fired == expected


@pytest.mark.parametrize(
    ("tz", "first", "last"),
    [
        pytest.param(AMSTERDAM, utc(2026, 3, 28, 23), utc(2026, 3, 29, 4), id="Amsterdam spring"),
        pytest.param(NEW_YORK, utc(2026, 3, 8, 5), utc(2026, 3, 8, 10), id="New York spring"),
        pytest.param(AMSTERDAM, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3), id="Amsterdam autumn: both 02:00 hours"),
        pytest.param(NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8), id="New York autumn: both 01:00 hours"),
    ],
)
def test_an_hourly_schedule_ticked_at_every_slot_follows_real_time_through_a_clock_change(
    schedules: Schedules, tz: str, first: datetime, last: datetime
) -> None:
    made = schedules.scheduled(HOURLY, first - timedelta(minutes=30), tz)

    [fired] = drive(schedules, [made], last)

    assert fired == every_hour(first, last)


def test_a_tick_every_minute_through_the_repeated_hour_fires_the_fixed_times_once(schedules: Schedules) -> None:
    made = [schedules.scheduled(cron, utc(2026, 11, 1, 4), NEW_YORK) for cron in ("30 1 * * *", "*/15 1 * * *", HOURLY)]
    drive(schedules, made, until=utc(2026, 11, 1, 5, 59))  # through 01:00-01:59 EDT

    with default_pool() as pool:
        # 05:59Z to 06:46Z: every minute of the second 01:00-01:46, now EST.
        for minute in range(48):
            tick(
                frozen_at(utc(2026, 11, 1, 5, 59, 5) + timedelta(minutes=minute)), runtime.new_id, pool, budget=100_000
            )

    assert [[run.scheduled_for for run in schedules.runs(routine)] for routine, _ in made] == [
        [iso(utc(2026, 11, 1, 5, 30))],
        [iso(utc(2026, 11, 1, 5, minute)) for minute in (0, 15, 30, 45)],
        every_hour(utc(2026, 11, 1, 5), utc(2026, 11, 1, 6)),
    ]
