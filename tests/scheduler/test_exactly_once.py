"""Exactly once: overlapping ticks, a crash between dispatch and advance, and the same `now` ticked twice."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.cron import fire_times, next_fire_after, parse_schedule
from chalicelib.domain.models import ConcurrencyPolicy, Routine, Run, RunSource, RunStatus, Trigger
from chalicelib.domain.schedule import CatchUpPolicy, plan_slots
from chalicelib.domain.timefmt import from_iso, frozen_at
from chalicelib.services.runs import Firing, record_dropped, slot_claim, start_run
from chalicelib.services.scheduler import TickSummary, default_pool, tick
from chalicelib.store import runs
from tests.scheduler.conftest import Schedules, dispatch_one, iso, utc

TICKS = 4
TRIGGERS = 300


def run_tick(now: datetime) -> TickSummary:
    with default_pool() as pool:
        return tick(frozen_at(now), runtime.new_id, pool, budget=100_000)


def crashed_dispatch(routine: Routine, trigger: Trigger, slot: datetime, now: datetime) -> None:
    """What a tick that crashed after firing `slot` leaves behind: the run and its claim, nextRunAt unchanged."""
    claims = (slot_claim(trigger.id, iso(slot), now),)
    start_run(routine, Firing(RunSource.schedule, trigger, claims=claims, scheduled_for=iso(slot)), now, runtime.new_id)


def test_concurrent_ticks_fire_each_due_slot_exactly_once(schedules: Schedules) -> None:
    made_at, now = utc(2026, 2, 2, 9, 59), utc(2026, 2, 2, 10, 0, 30)
    made = schedules.many(TRIGGERS, "0 * * * *", made_at, concurrency_policy=ConcurrencyPolicy.always_enqueue)
    start = threading.Barrier(TICKS)

    def one_tick() -> TickSummary:
        start.wait()
        return run_tick(now)

    with ThreadPoolExecutor(max_workers=TICKS) as ticks:
        summaries = list(ticks.map(lambda _: one_tick(), range(TICKS)))

    with ThreadPoolExecutor(max_workers=16) as pool:
        histories = list(pool.map(lambda pair: schedules.runs(pair[0]), made))
    assert [len(history) for history in histories] == [1] * TRIGGERS
    fired = [run for history in histories for run in history]
    assert {run.scheduled_for for run in fired} == {iso(utc(2026, 2, 2, 10))}
    assert {run.status for run in fired} == {RunStatus.issue_created}
    assert len({run.linked_issue_id for run in fired}) == TRIGGERS
    assert {schedules.next_run_at(trigger) for _, trigger in made} == {iso(utc(2026, 2, 2, 11))}
    assert all(summary.errors == 0 for summary in summaries)


def test_a_tick_after_a_crash_between_dispatch_and_advance_only_advances(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 2, 3, 9, 59))
    crashed_dispatch(routine, trigger, utc(2026, 2, 3, 10), utc(2026, 2, 3, 10, 0, 20))
    assert schedules.next_run_at(trigger) == iso(utc(2026, 2, 3, 10))

    run_tick(utc(2026, 2, 3, 10, 1))

    history = schedules.runs(routine)
    assert [(run.scheduled_for, run.status) for run in history] == [(iso(utc(2026, 2, 3, 10)), RunStatus.issue_created)]
    assert schedules.next_run_at(trigger) == iso(utc(2026, 2, 3, 11))


def test_a_catch_up_interrupted_after_some_slots_resumes_with_the_rest(schedules: Schedules) -> None:
    for fired_before_crash in (1, 2):
        day = 4 + fired_before_crash
        routine, trigger = schedules.scheduled(
            "0 * * * *",
            utc(2026, 2, day, 9, 59),
            catch_up_policy=CatchUpPolicy.enqueue_missed_with_cap,
            concurrency_policy=ConcurrencyPolicy.always_enqueue,
        )
        slots = [utc(2026, 2, day, hour) for hour in (10, 11, 12)]
        for slot in slots[:fired_before_crash]:
            crashed_dispatch(routine, trigger, slot, utc(2026, 2, day, 12, 30))

        outcome = dispatch_one(trigger.id, utc(2026, 2, day, 12, 31))

        assert outcome.runs == {RunStatus.issue_created: 3 - fired_before_crash}
        history = schedules.runs(routine)
        assert [run.scheduled_for for run in history] == [iso(slot) for slot in slots]
        assert {run.status for run in history} == {RunStatus.issue_created}
        assert schedules.next_run_at(trigger) == iso(utc(2026, 2, day, 13))


def test_a_tick_that_crashed_after_recording_dropped_slots_records_them_once(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 2, 8, 3, 59))
    crash_at = utc(2026, 2, 8, 9, 0, 30)
    plan = plan_slots(parse_schedule("0 * * * *", "UTC"), utc(2026, 2, 8, 4), crash_at, CatchUpPolicy.skip_missed)
    assert plan.dropped is not None
    record_dropped(routine, trigger, plan.dropped, crash_at, runtime.new_id)

    run_tick(utc(2026, 2, 8, 9, 1))

    history = schedules.runs(routine)
    assert [(run.status, run.failure_reason, run.scheduled_for) for run in history] == [
        (RunStatus.skipped, "missed", iso(utc(2026, 2, 8, 4))),
        (RunStatus.issue_created, None, iso(utc(2026, 2, 8, 9))),
    ]
    assert schedules.next_run_at(trigger) == iso(utc(2026, 2, 8, 10))


def test_ticking_the_same_now_twice_fires_nothing_the_second_time(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled(
        "0 * * * *", utc(2026, 2, 9, 6, 59), catch_up_policy=CatchUpPolicy.enqueue_missed_with_cap
    )
    now = utc(2026, 2, 9, 9, 30)

    run_tick(now)
    first = schedules.runs(routine)
    again = dispatch_one(trigger.id, now)
    run_tick(now)

    assert schedules.runs(routine) == first
    assert [run.scheduled_for for run in first] == [iso(utc(2026, 2, 9, hour)) for hour in (7, 8, 9)]
    assert sum(again.runs.values()) == 0 and again.errors == 0
    assert schedules.next_run_at(trigger) == iso(utc(2026, 2, 9, 10))


def test_a_slot_claim_names_the_run_it_admitted(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("30 * * * *", utc(2026, 2, 10, 7))
    run_tick(utc(2026, 2, 10, 7, 30, 5))
    [run] = schedules.runs(routine)
    assert runs.run_id_of_claim(f"slot#{trigger.id}#{iso(utc(2026, 2, 10, 7, 30))}") == run.id
    assert run.triggered_at == iso(utc(2026, 2, 10, 7, 30, 5)) and run.trigger_id == trigger.id
    assert schedules.stored(trigger).last_fired_at == run.triggered_at


def accounted_slots(history: list[Run], cron: str) -> list[str]:
    """Every slot the runs account for, fired or recorded as dropped, in the order written."""
    schedule = parse_schedule(cron, "UTC")
    slots: list[str] = []
    for run in history:
        if run.dropped_slots:
            first, last = from_iso(run.dropped_slots["first"]), from_iso(run.dropped_slots["last"])
            dropped = [first, *fire_times(schedule, first, last)]
            assert len(dropped) == run.dropped_slots["count"]
            slots += [iso(slot) for slot in dropped]
        else:
            slots.append(run.scheduled_for or "")
    return slots


@pytest.mark.parametrize(
    ("cron", "policy", "due", "crash_at", "retry_at", "fired"),
    [
        # The crashed tick's slot fires late rather than vanish; the retry's own slots are planned afresh.
        pytest.param("0 * * * *", CatchUpPolicy.skip_missed, utc(2026, 2, 11, 4), utc(2026, 2, 11, 9, 0, 30),
                     utc(2026, 2, 11, 9, 30), 1, id="skip: the retry comes after the grace"),
        pytest.param("0 * * * *", CatchUpPolicy.skip_missed, utc(2026, 2, 11, 4), utc(2026, 2, 11, 9, 0, 30),
                     utc(2026, 2, 11, 11, 2), 2, id="skip: the retry comes two slots later"),
        pytest.param("* * * * *", CatchUpPolicy.enqueue_missed_with_cap, utc(2026, 2, 12, 10),
                     utc(2026, 2, 12, 10, 40, 10), utc(2026, 2, 12, 10, 41, 10), 26, id="cap: a minute later"),
        pytest.param("0 * * * *", CatchUpPolicy.enqueue_missed_with_cap, utc(2026, 2, 13),
                     utc(2026, 2, 14, 16, 30), utc(2026, 2, 14, 19, 5), 28, id="cap: hours later"),
    ],
)  # fmt: skip
def test_a_retry_after_a_crash_that_recorded_dropped_slots_accounts_for_every_slot_once(
    schedules: Schedules,
    cron: str,
    policy: CatchUpPolicy,
    due: datetime,
    crash_at: datetime,
    retry_at: datetime,
    fired: int,
) -> None:
    routine, trigger = schedules.scheduled(
        cron, due - timedelta(seconds=30), catch_up_policy=policy, concurrency_policy=ConcurrencyPolicy.always_enqueue
    )
    plan = plan_slots(parse_schedule(cron, "UTC"), due, crash_at, policy)
    assert plan.dropped is not None and plan.fire
    record_dropped(routine, trigger, plan.dropped, crash_at, runtime.new_id)

    dispatch_one(trigger.id, retry_at)

    history = schedules.runs(routine)
    slots = accounted_slots(history, cron)
    expected = [iso(due), *(iso(slot) for slot in fire_times(parse_schedule(cron, "UTC"), due, retry_at))]
    assert sorted(slots) == expected
    assert len([run for run in history if run.dropped_slots is None]) == fired
    assert schedules.next_run_at(trigger) == iso(next_fire_after(parse_schedule(cron, "UTC"), retry_at))
