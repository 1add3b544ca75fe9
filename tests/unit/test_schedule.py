from datetime import datetime, timedelta

import pytest

from chalicelib.domain.cron import fire_times, parse_schedule
from chalicelib.domain.schedule import CatchUpPolicy, DroppedSlots, SlotPlan, plan_slots
from tests.moments import utc

SKIP = CatchUpPolicy.skip_missed
ENQUEUE = CatchUpPolicy.enqueue_missed_with_cap
HOURLY = parse_schedule("0 * * * *", "UTC")


def hours(first: datetime, count: int) -> tuple[datetime, ...]:
    return tuple(first + timedelta(hours=n) for n in range(count))


@pytest.mark.parametrize(
    ("policy", "due", "now", "expected"),
    [
        pytest.param(ENQUEUE, utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 0, 20),
            SlotPlan((utc(2026, 1, 1, 9),), None, utc(2026, 1, 1, 10)), id="enqueue on time"),
        pytest.param(SKIP, utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 0, 20),
            SlotPlan((utc(2026, 1, 1, 9),), None, utc(2026, 1, 1, 10)), id="skip on time"),
        pytest.param(ENQUEUE, utc(2026, 1, 1), utc(2026, 1, 1, 2, 30),
            SlotPlan(hours(utc(2026, 1, 1), 3), None, utc(2026, 1, 1, 3)), id="enqueue 2.5 h late"),
        pytest.param(ENQUEUE, utc(2026, 1, 1), utc(2026, 1, 2, 16),
            SlotPlan(
                hours(utc(2026, 1, 1, 16), 25),
                DroppedSlots(16, utc(2026, 1, 1), utc(2026, 1, 1, 15)),
                utc(2026, 1, 2, 17),
            ), id="enqueue 40 h late: 41 slots, 25 fire"),
        pytest.param(ENQUEUE, utc(2026, 1, 1), utc(2026, 1, 2, 15, 30),
            SlotPlan(
                hours(utc(2026, 1, 1, 15), 25),
                DroppedSlots(15, utc(2026, 1, 1), utc(2026, 1, 1, 14)),
                utc(2026, 1, 2, 16),
            ), id="enqueue 39.5 h late: 40 slots, 25 fire"),
        pytest.param(SKIP, utc(2026, 1, 1, 4), utc(2026, 1, 1, 9, 0, 30),
            SlotPlan(
                (utc(2026, 1, 1, 9),),
                DroppedSlots(5, utc(2026, 1, 1, 4), utc(2026, 1, 1, 8)),
                utc(2026, 1, 1, 10),
            ), id="skip fires the recent slot"),
        pytest.param(SKIP, utc(2026, 1, 1, 4), utc(2026, 1, 1, 9, 5),
            SlotPlan(
                (utc(2026, 1, 1, 9),),
                DroppedSlots(5, utc(2026, 1, 1, 4), utc(2026, 1, 1, 8)),
                utc(2026, 1, 1, 10),
            ), id="skip at the end of the grace"),
        pytest.param(SKIP, utc(2026, 1, 1, 4), utc(2026, 1, 1, 9, 5, 1),
            SlotPlan((), DroppedSlots(6, utc(2026, 1, 1, 4), utc(2026, 1, 1, 9)), utc(2026, 1, 1, 10)),
            id="skip drops a slot older than the grace"),
        pytest.param(SKIP, utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 30),
            SlotPlan((), DroppedSlots(1, utc(2026, 1, 1, 9), utc(2026, 1, 1, 9)), utc(2026, 1, 1, 10)),
            id="skip drops a lone stale slot"),
        pytest.param(SKIP, utc(2026, 1, 1, 10), utc(2026, 1, 1, 9, 59),
            SlotPlan((), None, utc(2026, 1, 1, 10)), id="not yet due"),
        pytest.param(ENQUEUE, utc(2026, 1, 1, 8, 17), utc(2026, 1, 1, 9, 1),
            SlotPlan((utc(2026, 1, 1, 8, 17), utc(2026, 1, 1, 9)), None, utc(2026, 1, 1, 10)),
            id="a due slot from an older expression still fires"),
    ],
)  # fmt: skip
def test_plan_slots_table(policy: CatchUpPolicy, due: datetime, now: datetime, expected: SlotPlan) -> None:
    assert plan_slots(HOURLY, due, now, policy) == expected


def test_skip_policy_fires_at_most_one_slot_after_an_outage() -> None:
    schedule = parse_schedule("*/5 * * * *", "UTC")
    plan = plan_slots(schedule, utc(2026, 1, 1, 10), utc(2026, 1, 1, 12, 1), SKIP)
    assert plan.fire == (utc(2026, 1, 1, 12),)
    assert plan.dropped == DroppedSlots(24, utc(2026, 1, 1, 10), utc(2026, 1, 1, 11, 55))
    assert plan.next_run_at == utc(2026, 1, 1, 12, 5)


def test_enqueue_policy_respects_a_custom_cap() -> None:
    plan = plan_slots(HOURLY, utc(2026, 1, 1), utc(2026, 1, 1, 5), ENQUEUE, cap=2)
    assert plan.fire == (utc(2026, 1, 1, 4), utc(2026, 1, 1, 5))
    assert plan.dropped == DroppedSlots(4, utc(2026, 1, 1), utc(2026, 1, 1, 3))


def test_skip_policy_respects_a_custom_grace() -> None:
    plan = plan_slots(
        HOURLY,
        utc(2026, 1, 1, 9),
        utc(2026, 1, 1, 9, 30),
        SKIP,
        grace=timedelta(hours=1),
    )
    assert plan.fire == (utc(2026, 1, 1, 9),)
    assert plan.dropped is None


def test_year_long_outage_of_every_minute_counts_every_dropped_slot_exactly() -> None:
    # Both clock changes of the year fall inside; every real minute is one slot. (Speed: bench/plan_slots.py.)
    schedule = parse_schedule("* * * * *", "Europe/Amsterdam")
    due, now = utc(2025, 6, 1, 0, 3), utc(2026, 6, 1, 0, 0, 30)
    plan = plan_slots(schedule, due, now, ENQUEUE)
    slots = (utc(2026, 6, 1) - due) // timedelta(minutes=1) + 1
    assert plan.dropped == DroppedSlots(slots - 25, due, utc(2026, 5, 31, 23, 35))
    assert plan.fire == tuple(utc(2026, 5, 31, 23, 36) + timedelta(minutes=n) for n in range(25))
    assert plan.next_run_at == utc(2026, 6, 1, 0, 1)


@pytest.mark.parametrize(
    ("expression", "tz", "due", "now"),
    [
        ("0 9 * * 1-5", "America/New_York", utc(2025, 12, 1, 14), utc(2026, 12, 1, 15)),
        ("30 2 * * *", "Europe/Amsterdam", utc(2026, 1, 1, 1, 30), utc(2026, 12, 1)),
        ("*/15 1 * * *", "America/New_York", utc(2026, 1, 1, 6), utc(2026, 12, 1)),
        ("0 * * * *", "Europe/Amsterdam", utc(2026, 1, 1), utc(2026, 12, 1, 0, 30)),
    ],
)
def test_a_long_outage_drops_exactly_the_slots_that_do_not_fire(
    expression: str, tz: str, due: datetime, now: datetime
) -> None:
    schedule = parse_schedule(expression, tz)
    every = [due, *fire_times(schedule, due, now)]
    plan = plan_slots(schedule, due, now, ENQUEUE)
    assert plan.fire == tuple(every[-25:])
    assert plan.dropped == DroppedSlots(len(every) - 25, due, every[-26])


def test_fall_back_night_enqueues_both_real_hours_of_an_hourly_schedule() -> None:
    schedule = parse_schedule("0 * * * *", "America/New_York")
    plan = plan_slots(schedule, utc(2026, 11, 1, 5), utc(2026, 11, 1, 7), ENQUEUE)
    assert plan.fire == hours(utc(2026, 11, 1, 5), 3)
    assert plan.next_run_at == utc(2026, 11, 1, 8)
