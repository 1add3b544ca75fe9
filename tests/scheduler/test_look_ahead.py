"""Look-ahead: a tick sends the slots due before the next tick to fire at their second, never before, and once.

A look-ahead delivery and a regular tick may both reach a slot; the slot's claim lets only one of them fire it.
"""

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import ConcurrencyPolicy, Routine, RunStatus, Trigger
from chalicelib.domain.timefmt import Clock, frozen_at, to_iso
from chalicelib.queue import delay_seconds
from chalicelib.services.scheduler import (
    BATCH_SIZE,
    LookAhead,
    Outcome,
    TickSummary,
    default_pool,
    dispatch_delivery,
    tick,
)
from chalicelib.settings import load_settings, look_ahead_for
from routines.local.ticker import TimerQueue
from tests.scheduler.conftest import Schedules, iso, utc

ROUNDS = 4
TRIGGERS = 12
Sent = list[tuple[list[str], str]]


def look_ahead_tick(now: datetime, seconds: float, sent: Sent) -> TickSummary:
    ahead = LookAhead(seconds, lambda ids, slot: sent.append((ids, slot)))
    with default_pool() as pool:
        return tick(frozen_at(now), runtime.new_id, pool, budget=100_000, look_ahead=ahead)


def deliver(
    ids: list[str], slot: str, clock: Clock, again: Sent | None = None, sleep: Callable[[float], None] = time.sleep
) -> list[Outcome]:
    """One delivery of a look-ahead batch to the dispatcher; an early batch it sends again lands in `again`."""
    resent: Sent = [] if again is None else again
    with default_pool() as pool:
        return dispatch_delivery(ids, slot, clock, runtime.new_id, pool, lambda i, s: resent.append((i, s)), sleep)


def mine(sent: Sent, triggers: list[Trigger]) -> Sent:
    """The batches sent for our own triggers (the tick also finds other tests' triggers)."""
    ours = {trigger.id for trigger in triggers}
    return [([i for i in ids if i in ours], slot) for ids, slot in sent if ours & set(ids)]


def race(batches: Sent, deliver_at: datetime, tick_at: datetime | None = None) -> list[Outcome]:
    """Delivers every batch at `deliver_at` side by side, with a regular tick at `tick_at` if given, all started
    together; the deliveries' outcomes."""
    start = threading.Barrier(len(batches) + (tick_at is not None))

    def delivery(batch: tuple[list[str], str]) -> list[Outcome]:
        start.wait()
        return deliver(*batch, frozen_at(deliver_at))

    def regular_tick(now: datetime) -> None:
        start.wait()
        with default_pool() as pool:
            tick(frozen_at(now), runtime.new_id, pool, budget=100_000)

    with ThreadPoolExecutor(max_workers=len(batches) + 1) as racers:
        ticked = racers.submit(regular_tick, tick_at) if tick_at is not None else None
        delivered = [outcome for found in racers.map(delivery, batches) for outcome in found]
        if ticked is not None:
            ticked.result()
    return delivered


def always(count: int, cron: str, made_at: datetime, schedules: Schedules) -> list[tuple[Routine, Trigger]]:
    return schedules.many(count, cron, made_at, concurrency_policy=ConcurrencyPolicy.always_enqueue)


def test_a_tick_sends_each_slot_before_its_horizon_in_batches_that_share_it(schedules: Schedules) -> None:
    made_at, now = utc(2027, 1, 4, 9, 58), utc(2027, 1, 4, 9, 59, 50)
    soon = always(BATCH_SIZE + 5, "0 10 * * *", made_at, schedules)  # due at 10:00:00, 10 s ahead
    later = always(1, "1 10 * * *", made_at, schedules)  # 10:01:00, beyond a 30 s horizon
    due = always(1, "59 9 * * *", made_at, schedules)  # 09:59:00, due now
    sent: Sent = []

    summary = look_ahead_tick(now, 30, sent)

    batches = mine(sent, [trigger for _, trigger in soon + later + due])
    assert sorted(len(ids) for ids, _ in batches) == [5, BATCH_SIZE]
    assert {slot for _, slot in batches} == {iso(utc(2027, 1, 4, 10))}
    assert {i for ids, _ in batches for i in ids} == {trigger.id for _, trigger in soon}
    assert summary.delayed >= len(soon)
    assert [[run.scheduled_for for run in schedules.runs(routine)] for routine, _ in due] == [
        [iso(utc(2027, 1, 4, 9, 59))]
    ]
    assert all(schedules.runs(routine) == [] for routine, _ in soon + later)


def test_a_look_ahead_delivery_and_a_regular_tick_at_the_same_slot_fire_it_once(schedules: Schedules) -> None:
    for day in range(5, 5 + ROUNDS):
        slot = utc(2027, 1, day, 10)
        made = always(TRIGGERS, "0 10 * * *", utc(2027, 1, day, 9), schedules)
        sent: Sent = []
        look_ahead_tick(slot - timedelta(seconds=10), 30, sent)
        batches = mine(sent, [trigger for _, trigger in made])

        race(batches, slot + timedelta(milliseconds=5), tick_at=slot + timedelta(seconds=1))

        histories = [schedules.runs(routine) for routine, _ in made]
        assert [[(run.scheduled_for, run.status) for run in history] for history in histories] == [
            [(iso(slot), RunStatus.issue_created)]
        ] * TRIGGERS
        assert {schedules.next_run_at(trigger) for _, trigger in made} == {iso(slot + timedelta(days=1))}


def test_two_overlapping_ticks_that_both_plan_a_slot_ahead_fire_it_once(schedules: Schedules) -> None:
    slot = utc(2027, 1, 12, 10)
    made = always(TRIGGERS, "0 10 * * *", utc(2027, 1, 12, 9), schedules)
    first: Sent = []
    second: Sent = []
    look_ahead_tick(slot - timedelta(seconds=25), 30, first)
    look_ahead_tick(slot - timedelta(seconds=10), 30, second)
    triggers = [trigger for _, trigger in made]
    batches = mine(first, triggers) + mine(second, triggers)
    assert {i for ids, _ in mine(first, triggers) for i in ids} == {trigger.id for trigger in triggers}
    assert {i for ids, _ in mine(second, triggers) for i in ids} == {trigger.id for trigger in triggers}

    outcomes = race(batches, slot)

    assert sum(sum(outcome.runs.values()) for outcome in outcomes) == TRIGGERS
    assert [[run.scheduled_for for run in schedules.runs(routine)] for routine, _ in made] == [[iso(slot)]] * TRIGGERS


def test_a_delivery_more_than_a_second_early_waits_again_and_fires_once_at_its_slot(schedules: Schedules) -> None:
    slot = utc(2027, 1, 13, 10)
    routine, trigger = schedules.scheduled("0 10 * * *", utc(2027, 1, 13, 9))
    again: Sent = []

    early = deliver([trigger.id], iso(slot), frozen_at(slot - timedelta(seconds=5)), again)

    assert early == []
    assert again == [([trigger.id], iso(slot))]
    assert schedules.runs(routine) == []
    assert schedules.next_run_at(trigger) == iso(slot)

    on_time = deliver(*again[0], frozen_at(slot + timedelta(milliseconds=300)))
    duplicate = deliver(*again[0], frozen_at(slot + timedelta(seconds=2)))

    assert [outcome.runs for outcome in on_time] == [{RunStatus.issue_created: 1}]
    assert [sum(outcome.runs.values()) for outcome in duplicate] == [0]
    [run] = schedules.runs(routine)
    assert (run.scheduled_for, run.created_at) == (iso(slot), to_iso(slot + timedelta(milliseconds=300)))


def test_a_delivery_less_than_a_second_early_sleeps_out_the_rest_and_fires_at_its_slot(schedules: Schedules) -> None:
    slot = utc(2027, 1, 14, 10)
    routine, trigger = schedules.scheduled("0 10 * * *", utc(2027, 1, 14, 9))
    slept: list[float] = []
    again: Sent = []

    deliver([trigger.id], iso(slot), frozen_at(slot - timedelta(milliseconds=400)), again, slept.append)

    assert slept == [0.4]
    assert again == []
    [run] = schedules.runs(routine)
    # The clock still reads 400 ms early: the dispatcher's `now` is never before the slot.
    assert (run.scheduled_for, run.created_at) == (iso(slot), iso(slot))


def test_a_delivery_for_a_slot_the_trigger_has_moved_past_does_nothing(schedules: Schedules) -> None:
    slot = utc(2027, 1, 15, 10)
    routine, trigger = schedules.scheduled("0 10 * * *", utc(2027, 1, 15, 9))
    with default_pool() as pool:
        tick(frozen_at(slot + timedelta(seconds=3)), runtime.new_id, pool, budget=100_000)

    late = deliver([trigger.id], iso(slot), frozen_at(slot + timedelta(seconds=4)))

    assert [sum(outcome.runs.values()) for outcome in late] == [0]
    assert [run.scheduled_for for run in schedules.runs(routine)] == [iso(slot)]


def test_each_run_of_a_tick_is_created_when_it_is_written_not_when_the_tick_began(schedules: Schedules) -> None:
    now = utc(2027, 1, 16, 10, 0, 1)
    made = always(TRIGGERS, "0 10 * * *", utc(2027, 1, 16, 9), schedules)
    readings = itertools.count()

    def clock() -> datetime:  # each reading one second later than the one before
        return now + timedelta(seconds=next(readings))

    with default_pool() as pool:
        tick(clock, runtime.new_id, pool, budget=100_000)

    created = [run.created_at for routine, _ in made for run in schedules.runs(routine)]
    assert len(created) == len(set(created)) == TRIGGERS
    assert min(created) > iso(now)


def test_the_local_timer_queue_hands_a_batch_to_the_dispatcher_at_its_slot(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("0 10 * * *", utc(2027, 1, 17, 9))
    slot = runtime.now() + timedelta(milliseconds=700)
    schedules.backdate(trigger, slot.replace(microsecond=slot.microsecond // 1000 * 1000))
    stored = schedules.next_run_at(trigger)
    assert stored is not None

    with default_pool() as pool, TimerQueue(pool, runtime.now, runtime.new_id) as timers:
        timers.send_later([trigger.id], stored)
        timers.send_later([trigger.id], stored)  # two overlapping ticks planned it
        for _ in range(600):  # up to 30 s on a busy machine; it fires within a second
            if schedules.runs(routine):
                break
            time.sleep(0.05)

    [run] = schedules.runs(routine)
    assert run.scheduled_for == stored
    assert run.created_at >= stored


def test_the_horizon_is_a_tick_period_plus_a_margin_and_zero_turns_it_off() -> None:
    assert load_settings({}).look_ahead_seconds == look_ahead_for(60) > 60
    assert load_settings({"ROUTINES_LOOK_AHEAD_SECONDS": "0"}).look_ahead_seconds == 0
    assert load_settings({"ROUTINES_LOOK_AHEAD_SECONDS": "90"}).look_ahead_seconds == 90
    with pytest.raises(ValueError, match="ROUTINES_LOOK_AHEAD_SECONDS"):
        load_settings({"ROUTINES_LOOK_AHEAD_SECONDS": "-1"})


@pytest.mark.parametrize(
    ("ahead", "delay"), [(timedelta(milliseconds=2200), 3), (timedelta(seconds=5), 5), (timedelta(hours=1), 900)]
)
def test_a_slot_is_delayed_by_its_seconds_rounded_up_and_at_most_fifteen_minutes(ahead: timedelta, delay: int) -> None:
    now = utc(2027, 1, 18, 10)
    assert delay_seconds(to_iso(now + ahead), now) == delay
    assert delay_seconds(to_iso(now - ahead), now) == 0


def test_a_tick_neither_sends_again_nor_dispatches_the_triggers_a_delivery_holds(schedules: Schedules) -> None:
    made_at, now = utc(2027, 1, 5, 9, 58), utc(2027, 1, 5, 9, 59, 50)
    [(held_due, held_due_trigger), (free_due, _)] = always(2, "59 9 * * *", made_at, schedules)  # due now
    [(_, held_soon), (_, free_soon)] = always(2, "0 10 * * *", made_at, schedules)  # due in 10 s
    held = {held_due_trigger.id, held_soon.id}
    sent: Sent = []
    ahead = LookAhead(30, lambda ids, slot: sent.append((ids, slot)), held.__contains__)

    with default_pool() as pool:
        tick(frozen_at(now), runtime.new_id, pool, budget=100_000, look_ahead=ahead)

    assert schedules.runs(held_due) == []  # its delivery is under way: the tick leaves it alone
    assert len(schedules.runs(free_due)) == 1
    assert mine(sent, [held_soon, free_soon]) == [([free_soon.id], iso(utc(2027, 1, 5, 10)))]


def test_the_timer_queue_holds_a_batch_until_its_delivery_is_done() -> None:
    slot = to_iso(runtime.now() + timedelta(hours=1))
    with default_pool() as pool, TimerQueue(pool, runtime.now, runtime.new_id) as timers:
        timers.send_later(["waiting"], slot)
        timers.send_later(["now"], to_iso(runtime.now()))  # delivered at once: no such trigger, nothing fires
        assert timers.holds("waiting")
        for _ in range(200):
            if not timers.holds("now"):
                break
            time.sleep(0.05)
        assert not timers.holds("now")
        assert timers.holds("waiting") and not timers.holds("never sent")
