"""Fan-out: a tick dispatches up to its budget and sends the rest in batches, as SQS messages, exactly once."""

from chalicelib import runtime
from chalicelib.domain.models import ConcurrencyPolicy, RunStatus
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import BATCH_SIZE, default_pool, dispatch_all, tick
from tests.scheduler.conftest import Schedules, iso, utc

TRIGGERS = 60
BUDGET = 10


def test_triggers_beyond_the_budget_go_out_in_batches_that_finish_the_work_once(schedules: Schedules) -> None:
    made_at, now = utc(2026, 5, 4, 9, 59), utc(2026, 5, 4, 10, 0, 30)
    made = schedules.many(TRIGGERS, "0 * * * *", made_at, concurrency_policy=ConcurrencyPolicy.always_enqueue)
    mine = {trigger.id: routine for routine, trigger in made}
    batches: list[list[str]] = []

    with default_pool() as pool:
        summary = tick(frozen_at(now), runtime.new_id, pool, budget=BUDGET, send_batch=batches.append)
        sent = [trigger_id for batch in batches for trigger_id in batch]
        assert all(0 < len(batch) <= BATCH_SIZE for batch in batches)
        assert len(sent) == len(set(sent)) == summary.queued == summary.due - BUDGET
        fired_here = {trigger_id for trigger_id in mine if schedules.runs(mine[trigger_id])}
        assert fired_here.isdisjoint(sent)
        assert fired_here | (set(sent) & mine.keys()) == mine.keys()

        for batch in batches:
            dispatch_all(batch, frozen_at(now), runtime.new_id, pool)
        for batch in batches:  # SQS delivers at least once
            dispatch_all(batch, frozen_at(now), runtime.new_id, pool)

    histories = [schedules.runs(routine) for routine in mine.values()]
    assert [[(run.status, run.scheduled_for) for run in history] for history in histories] == [
        [(RunStatus.issue_created, iso(utc(2026, 5, 4, 10)))]
    ] * TRIGGERS
    assert {schedules.next_run_at(trigger) for _, trigger in made} == {iso(utc(2026, 5, 4, 11))}


def test_a_batch_delivered_again_after_its_slot_fired_creates_nothing(schedules: Schedules) -> None:
    routine, trigger = schedules.scheduled("*/10 * * * *", utc(2026, 5, 5, 9, 59))
    with default_pool() as pool:
        first = dispatch_all([trigger.id], frozen_at(utc(2026, 5, 5, 10, 0, 20)), runtime.new_id, pool)
        late = dispatch_all([trigger.id, trigger.id], frozen_at(utc(2026, 5, 5, 10, 4)), runtime.new_id, pool)

    assert [outcome.runs for outcome in first] == [{RunStatus.issue_created: 1}]
    assert [sum(outcome.runs.values()) for outcome in late] == [0, 0]
    assert [run.scheduled_for for run in schedules.runs(routine)] == [iso(utc(2026, 5, 5, 10))]


def test_a_tick_past_its_seconds_budget_queues_the_rest_instead_of_dispatching(schedules: Schedules) -> None:
    made_at, now = utc(2026, 5, 6, 9, 59), utc(2026, 5, 6, 10, 0, 30)
    routine, trigger = schedules.scheduled("0 * * * *", made_at)
    batches: list[list[str]] = []

    with default_pool() as pool:
        # A budget already spent once the due triggers are found: every one of them goes to the queue.
        summary = tick(
            frozen_at(now), runtime.new_id, pool, budget=1_000, send_batch=batches.append, budget_seconds=1e-9
        )

    sent = [trigger_id for batch in batches for trigger_id in batch]
    assert trigger.id in sent
    assert summary.queued == summary.due == len(sent)
    assert sum(summary.runs.values()) == 0
    assert schedules.runs(routine) == []
