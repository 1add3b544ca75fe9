"""The tick never Scans: its cost follows the due work, found through the sparse `due` index."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.models import RoutineStatus
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services import routines as routine_service
from chalicelib.services.commands import UpdateRoutine
from chalicelib.services.scheduler import default_pool, dispatch_all, tick
from chalicelib.store import routines
from chalicelib.store.directory import ISSUE_NUMBERS
from chalicelib.store.tables import ALL_TABLES, TriggerItem
from routines.metering import counting_requests
from tests.scheduler.conftest import BOARD, Schedules, utc

EVENT = "before-parameter-build.dynamodb"


@pytest.fixture
def operations() -> Iterator[Counter[tuple[str, str, str | None]]]:
    """(operation, table, index) of every DynamoDB call made while the test runs."""
    seen: Counter[tuple[str, str, str | None]] = Counter()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        for table in [params.get("TableName")] if "TableName" in params else _transaction_tables(params):
            seen[(model.name, table, params.get("IndexName"))] += 1

    clients = {id(client): client for client in (m._get_connection().connection.client for m in ALL_TABLES)}
    for client in clients.values():
        client.meta.events.register(EVENT, record)
    yield seen
    for client in clients.values():
        client.meta.events.unregister(EVENT, record)


def _transaction_tables(params: dict[str, Any]) -> list[str]:
    return [next(iter(item.values()))["TableName"] for item in params.get("TransactItems", [])]


def test_a_tick_queries_the_due_index_reads_by_key_and_writes_without_scanning(
    schedules: Schedules, operations: Counter[tuple[str, str, str | None]]
) -> None:
    made_at = utc(2026, 7, 1, 5, 59)
    catching_up, _ = schedules.scheduled("0 * * * *", made_at, catch_up_policy=CatchUpPolicy.enqueue_missed_with_cap)
    stale, _ = schedules.scheduled("0 * * * *", made_at)
    paused, _ = schedules.scheduled("0 * * * *", made_at)
    routine_service.update_routine(
        BOARD, paused.id, UpdateRoutine(status=RoutineStatus.paused), made_at, runtime.new_id
    )
    operations.clear()

    with default_pool() as pool:
        tick(frozen_at(utc(2026, 7, 1, 8, 30)), runtime.new_id, pool, budget=100_000)
    during_tick = Counter(operations)

    assert len(schedules.runs(catching_up)) == 3 and len(schedules.runs(stale)) == 1
    kinds = {operation for operation, _, _ in during_tick}
    assert kinds <= {"Query", "BatchGetItem", "GetItem", "TransactWriteItems", "UpdateItem"}
    triggers = TriggerItem.Meta.table_name
    assert {(table, index) for operation, table, index in during_tick if operation == "Query"} == {(triggers, "due")}
    assert during_tick[("Query", triggers, "due")] == len(routines.all_due_shards())
    assert not any(operation == "Scan" for operation, _, _ in during_tick)


def test_dispatching_due_triggers_reads_them_and_their_routines_in_two_batches(schedules: Schedules) -> None:
    made_at, now = utc(2026, 7, 2, 5, 59), utc(2026, 7, 2, 6, 0, 20)
    made = [schedules.scheduled("0 * * * *", made_at) for _ in range(10)]
    trigger_ids = [trigger.id for _, trigger in made]
    ISSUE_NUMBERS.allocate(made[0][0].company_id)  # reserve a block of issue numbers before counting

    with counting_requests() as sent, default_pool() as pool:
        outcomes = dispatch_all(trigger_ids, frozen_at(now), runtime.new_id, pool)

    assert sum(sum(outcome.runs.values()) for outcome in outcomes) == 10
    assert sent == {"BatchGetItem": 2, "TransactWriteItems": 10}
