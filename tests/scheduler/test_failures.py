"""A trigger that cannot dispatch is recorded as `failed`, advanced, and never stops the rest of the tick."""

from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.awsrequest import AWSResponse

from chalicelib import runtime
from chalicelib.domain.models import ConcurrencyPolicy, RoutineStatus, RunStatus
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import default_pool, dispatch_all, tick
from chalicelib.store import routines
from chalicelib.store.tables import RoutineItem, TriggerItem
from tests.scheduler.conftest import Schedules, dispatch_one, iso, utc
from tests.support import World

TERMINATED = "Cannot assign routines to terminated agents"


def run_tick(now: datetime) -> None:
    with default_pool() as pool:
        tick(frozen_at(now), runtime.new_id, pool, budget=100_000)


def terminate(world: World, agent_id: str) -> None:
    response = world.board.patch(f"/agents/{agent_id}", {"status": "terminated"})
    assert response.status_code == 200, response.text


def test_a_terminated_assignee_fails_its_slot_and_the_other_trigger_still_fires(
    world: World, schedules: Schedules
) -> None:
    made_at = utc(2026, 4, 1, 9, 59)
    doomed, doomed_trigger = schedules.scheduled("0 * * * *", made_at, assignee_agent_id=world.bravo_id)
    healthy, healthy_trigger = schedules.scheduled("0 * * * *", made_at)
    terminate(world, world.bravo_id)

    run_tick(utc(2026, 4, 1, 10, 0, 30))

    [failed] = schedules.runs(doomed)
    assert failed.status == RunStatus.failed
    assert failed.failure_reason == TERMINATED
    assert failed.scheduled_for == iso(utc(2026, 4, 1, 10))
    assert failed.linked_issue_id is None and failed.completed_at == iso(utc(2026, 4, 1, 10, 0, 30))
    stored = schedules.stored(doomed_trigger)
    assert schedules.next_run_at(doomed_trigger) == iso(utc(2026, 4, 1, 11))
    assert stored.last_result == "Execution failed"
    assert [run.status for run in schedules.runs(healthy)] == [RunStatus.issue_created]
    assert schedules.next_run_at(healthy_trigger) == iso(utc(2026, 4, 1, 11))


def test_every_missed_slot_of_a_failing_trigger_is_recorded_once(world: World, schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled(
        "0 * * * *",
        utc(2026, 4, 2, 9, 59),
        assignee_agent_id=world.bravo_id,
        catch_up_policy=CatchUpPolicy.enqueue_missed_with_cap,
        concurrency_policy=ConcurrencyPolicy.always_enqueue,
    )
    terminate(world, world.bravo_id)

    run_tick(utc(2026, 4, 2, 12, 30))
    run_tick(utc(2026, 4, 2, 12, 30))

    history = schedules.runs(routine)
    assert [(run.status, run.scheduled_for) for run in history] == [
        (RunStatus.failed, iso(utc(2026, 4, 2, hour))) for hour in (10, 11, 12)
    ]
    assert {run.failure_reason for run in history} == {TERMINATED}
    assert schedules.next_run_at(trigger) == iso(utc(2026, 4, 2, 13))


def test_a_trigger_that_cannot_be_planned_is_counted_as_an_error_and_the_tick_goes_on(schedules: Schedules) -> None:
    made_at = utc(2026, 4, 3, 9, 59)
    broken, broken_trigger = schedules.scheduled("0 * * * *", made_at)
    healthy, _ = schedules.scheduled("0 * * * *", made_at)
    # An expression stored before a stricter parser: it no longer parses.
    assert broken_trigger.schedule is not None
    unparsable = replace(broken_trigger.schedule, cron_expression="0 * * *")
    routines.save_trigger(replace(broken_trigger, schedule=unparsable), RoutineStatus.active)

    with default_pool() as pool:
        summary = tick(frozen_at(utc(2026, 4, 3, 10, 0, 30)), runtime.new_id, pool, budget=100_000)

    assert summary.errors >= 1
    assert schedules.runs(broken) == []
    assert schedules.next_run_at(broken_trigger) == iso(utc(2026, 4, 3, 10))
    assert [run.status for run in schedules.runs(healthy)] == [RunStatus.issue_created]
    assert dispatch_one(broken_trigger.id, utc(2026, 4, 3, 10, 1)).errors == 1


class FailingBatchReads:
    """Answers every BatchGetItem with an error, as a throttled or broken batch read would end."""

    EVENT = "before-call.dynamodb.BatchGetItem"

    def __init__(self) -> None:
        self.clients = {id(c): c for c in (m._get_connection().connection.client for m in (TriggerItem, RoutineItem))}

    def __enter__(self) -> "FailingBatchReads":
        for client in self.clients.values():
            client.meta.events.register_first(self.EVENT, self.answer)
        return self

    def __exit__(self, *_: object) -> None:
        for client in self.clients.values():
            client.meta.events.unregister(self.EVENT, self.answer)

    def answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "ValidationException", "Message": "Batch read refused"}
        return AWSResponse(None, 400, {}, None), {"Error": error}


def test_due_triggers_are_read_one_by_one_when_the_batch_read_fails(schedules: Schedules) -> None:
    made_at, now = utc(2026, 4, 4, 9, 59), utc(2026, 4, 4, 10, 0, 30)
    made = [schedules.scheduled("0 * * * *", made_at) for _ in range(3)]

    with FailingBatchReads(), default_pool() as pool:
        outcomes = dispatch_all([trigger.id for _, trigger in made], frozen_at(now), runtime.new_id, pool)

    assert [(outcome.runs, outcome.errors) for outcome in outcomes] == [({RunStatus.issue_created: 1}, 0)] * 3
    assert all(schedules.next_run_at(trigger) == iso(utc(2026, 4, 4, 11)) for _, trigger in made)
