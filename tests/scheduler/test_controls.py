"""Schedule preview and backfill against the real tick: a preview lists what the tick fires, and a backfill
racing the tick over the same slots fires each slot once."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import RunSource
from chalicelib.services import backfill, triggers
from chalicelib.services.commands import Backfill
from tests.scheduler.conftest import BOARD, Schedules, dispatch_one, iso, utc
from tests.scheduler.test_dst import AMSTERDAM, drive


@pytest.mark.parametrize(
    ("cron", "made_at", "until"),
    [
        ("30 2 * * *", utc(2027, 3, 26, 12), utc(2027, 3, 30, 12)),
        ("30 2 * * *", utc(2027, 10, 29, 12), utc(2027, 11, 2, 12)),
        ("0 * * * *", utc(2027, 3, 27, 22), utc(2027, 3, 28, 4)),
        ("0 * * * *", utc(2027, 10, 30, 22), utc(2027, 10, 31, 4)),
        ("*/30 2 * * *", utc(2027, 10, 30, 12), utc(2027, 10, 31, 12)),
    ],
)
def test_a_trigger_preview_across_an_amsterdam_clock_change_lists_what_the_tick_fires(
    schedules: Schedules, cron: str, made_at: datetime, until: datetime
) -> None:
    made = schedules.scheduled(cron, made_at, AMSTERDAM)
    preview = triggers.preview_trigger(BOARD, made[1].id, 100, made_at)
    next_run_at = schedules.next_run_at(made[1])

    [fired] = drive(schedules, [made], until)

    assert fired == [iso(time.utc) for time in preview if time.utc <= until]
    assert iso(preview[0].utc) == next_run_at


def test_a_backfill_racing_the_tick_over_the_same_slots_fires_each_slot_once(schedules: Schedules) -> None:
    made_at = utc(2027, 5, 3, 0)
    now = made_at + timedelta(hours=10, minutes=20)
    fields = {"catch_up_policy": "enqueue_missed_with_cap", "concurrency_policy": "always_enqueue"}
    made = [schedules.scheduled("0 * * * *", made_at, **fields) for _ in range(4)]
    window = {"triggerId": "", "from": made_at, "to": now}
    start = threading.Barrier(2 * len(made))

    def tick(trigger_id: str) -> int:
        start.wait()
        return sum(dispatch_one(trigger_id, now).runs.values())

    def fill(index: int) -> int:
        routine, trigger = made[index]
        command = Backfill.model_validate({**window, "triggerId": trigger.id})
        start.wait()
        return len(backfill.backfill(BOARD, routine, command, now, runtime.new_id).runs)

    with ThreadPoolExecutor(max_workers=2 * len(made)) as pool:
        ticked = [pool.submit(tick, trigger.id) for _, trigger in made]
        filled = [pool.submit(fill, index) for index in range(len(made))]
        written = [a.result() + b.result() for a, b in zip(ticked, filled, strict=True)]

    slots = [iso(made_at + timedelta(hours=n)) for n in range(11)]  # the tick fires 01:00 on; the window opens at 00:00
    for (routine, trigger), count in zip(made, written, strict=True):
        runs = schedules.runs(routine)
        assert Counter(run.scheduled_for for run in runs) == Counter(slots)
        assert {run.source for run in runs} == {RunSource.schedule}
        assert count == len(slots)
        assert schedules.next_run_at(trigger) == iso(made_at + timedelta(hours=11))


def test_a_backfilled_slot_is_not_fired_again_by_the_tick(schedules: Schedules) -> None:
    made_at = utc(2027, 5, 4, 0)
    routine, trigger = schedules.scheduled("0 * * * *", made_at, catch_up_policy="enqueue_missed_with_cap")
    now = made_at + timedelta(hours=2, minutes=20)
    command = Backfill.model_validate({"triggerId": trigger.id, "from": made_at, "to": now})

    filled = backfill.backfill(BOARD, routine, command, now, runtime.new_id)
    ticked = dispatch_one(trigger.id, now)

    assert [run.backfill for run in filled.runs] == [True, True, True]
    assert sum(ticked.runs.values()) == 0
    assert [run.scheduled_for for run in schedules.runs(routine)] == [
        iso(made_at + timedelta(hours=n)) for n in range(3)
    ]
    assert schedules.next_run_at(trigger) == iso(made_at + timedelta(hours=3))
