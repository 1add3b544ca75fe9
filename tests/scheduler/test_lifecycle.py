"""Paused, archived and disabled: nothing fires and the trigger leaves the `due` index; coming back never bursts."""

from collections.abc import Callable
from datetime import datetime

import pytest

from chalicelib import runtime
from chalicelib.domain.models import Routine, RoutineStatus, Trigger
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services import routines as routine_service
from chalicelib.services import triggers as trigger_service
from chalicelib.services.commands import UpdateRoutine, UpdateTrigger
from chalicelib.services.scheduler import default_pool, tick
from chalicelib.store import routines
from tests.scheduler.conftest import BOARD, Schedules, iso, utc

ENQUEUE = CatchUpPolicy.enqueue_missed_with_cap


def run_tick(now: datetime) -> None:
    with default_pool() as pool:
        tick(frozen_at(now), runtime.new_id, pool, budget=100_000)


def in_due_index(trigger: Trigger) -> bool:
    due = routines.due_in_shard(routines.due_shard(trigger.id), "9999-12-31T00:00:00.000Z")
    return trigger.id in {trigger_id for trigger_id, _ in due}


@pytest.mark.parametrize("status", [RoutineStatus.paused, RoutineStatus.archived])
def test_a_routine_that_is_not_active_fires_nothing_and_leaves_the_due_index(
    schedules: Schedules, status: RoutineStatus
) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 3, 2, 9, 59), catch_up_policy=ENQUEUE)
    assert in_due_index(trigger)

    routine_service.update_routine(
        BOARD, routine.id, UpdateRoutine(status=status), utc(2026, 3, 2, 9, 59, 30), runtime.new_id
    )
    run_tick(utc(2026, 3, 2, 13, 30))

    assert schedules.runs(routine) == []
    assert not in_due_index(trigger)


def test_a_disabled_trigger_fires_nothing_and_leaves_the_due_index(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 3, 3, 9, 59), catch_up_policy=ENQUEUE)

    trigger_service.update_trigger(
        BOARD, trigger.id, UpdateTrigger(enabled=False), utc(2026, 3, 3, 9, 59, 30), runtime.new_id
    )
    run_tick(utc(2026, 3, 3, 13, 30))

    assert schedules.runs(routine) == []
    assert not in_due_index(trigger)
    assert schedules.next_run_at(trigger) is None


@pytest.mark.parametrize("status", [RoutineStatus.paused, RoutineStatus.archived])
def test_a_stale_index_entry_costs_a_read_and_is_removed(schedules: Schedules, status: RoutineStatus) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 3, 4, 9, 59))
    routine_service.update_routine(
        BOARD, routine.id, UpdateRoutine(status=status), utc(2026, 3, 4, 9, 59, 30), runtime.new_id
    )
    # As if the index had not caught up with the pause yet.
    routines.set_due(trigger, RoutineStatus.active)
    assert in_due_index(trigger)

    run_tick(utc(2026, 3, 4, 10, 0, 30))

    assert schedules.runs(routine) == []
    assert not in_due_index(trigger)


def switch_routine(routine: Routine, trigger: Trigger, on: bool, now: datetime) -> None:
    status = RoutineStatus.active if on else RoutineStatus.paused
    routine_service.update_routine(BOARD, routine.id, UpdateRoutine(status=status), now, runtime.new_id)


def switch_trigger(routine: Routine, trigger: Trigger, on: bool, now: datetime) -> None:
    trigger_service.update_trigger(BOARD, trigger.id, UpdateTrigger(enabled=on), now, runtime.new_id)


@pytest.mark.parametrize(
    ("switch", "day"),
    [
        pytest.param(switch_routine, 5, id="reactivating a routine"),
        pytest.param(switch_trigger, 6, id="re-enabling a trigger"),
    ],
)
def test_switching_back_on_recomputes_next_run_from_now_without_a_burst(
    schedules: Schedules, switch: Callable[[Routine, Trigger, bool, datetime], None], day: int
) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 3, day, 9, 59), catch_up_policy=ENQUEUE)
    switch(routine, trigger, False, utc(2026, 3, day, 9, 59, 30))
    run_tick(utc(2026, 3, day, 12, 30))

    switch(routine, trigger, True, utc(2026, 3, day, 15, 20))
    assert schedules.next_run_at(trigger) == iso(utc(2026, 3, day, 16))
    assert in_due_index(trigger)
    run_tick(utc(2026, 3, day, 15, 21))
    assert schedules.runs(routine) == []

    run_tick(utc(2026, 3, day, 16, 0, 10))
    assert [run.scheduled_for for run in schedules.runs(routine)] == [iso(utc(2026, 3, day, 16))]


def test_a_trigger_disabled_between_the_index_and_the_read_fires_nothing(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("0 * * * *", utc(2026, 3, 7, 9, 59))
    trigger_service.update_trigger(
        BOARD, trigger.id, UpdateTrigger(enabled=False), utc(2026, 3, 7, 9, 59, 30), runtime.new_id
    )
    routines.set_due(trigger, RoutineStatus.active)  # the index still lists it, with the old nextRunAt

    run_tick(utc(2026, 3, 7, 10, 0, 30))

    assert schedules.runs(routine) == []
