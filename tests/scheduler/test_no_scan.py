"""The tick never Scans: its cost follows the due work, found through the sparse `due` index."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.models import RoutineStatus
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.services import routines as routine_service
from chalicelib.services.scheduler import default_pool, tick
from chalicelib.store import routines
from chalicelib.store.tables import ALL_TABLES, TriggerItem
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
    routine_service.update_routine(BOARD, paused.id, {"status": RoutineStatus.paused}, made_at)
    operations.clear()

    with default_pool() as pool:
        tick(utc(2026, 7, 1, 8, 30), runtime.new_id, pool, budget=100_000)
    during_tick = Counter(operations)

    assert len(schedules.runs(catching_up)) == 3 and len(schedules.runs(stale)) == 1
    kinds = {operation for operation, _, _ in during_tick}
    assert kinds <= {"Query", "GetItem", "TransactWriteItems", "UpdateItem"}
    triggers = TriggerItem.Meta.table_name
    assert {(table, index) for operation, table, index in during_tick if operation == "Query"} == {(triggers, "due")}
    assert during_tick[("Query", triggers, "due")] == len(routines.all_due_shards())
    assert not any(operation == "Scan" for operation, _, _ in during_tick)
