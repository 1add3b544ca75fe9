"""What a dispatch costs in DynamoDB requests, counted on the botocore clients pynamodb uses."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.models import RunSource, RunStatus
from chalicelib.services.runs import Firing, start_run
from chalicelib.store import routines
from chalicelib.store.tables import ALL_TABLES
from tests.support import World

EVENT = "before-call.dynamodb"


def table(name: str) -> str:
    return f"{runtime.settings().table_prefix}-{name}"


@pytest.fixture
def requests_sent() -> Iterator[list[tuple[str, str | None]]]:
    """(operation, table) of every DynamoDB request this process sends while the test runs."""
    sent: list[tuple[str, str | None]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        sent.append((model.name, json.loads(params["body"]).get("TableName")))

    clients = {id(c): c for c in (m._get_connection().connection.client for m in ALL_TABLES)}.values()
    for client in clients:
        client.meta.events.register(EVENT, record)
    yield sent
    for client in clients:
        client.meta.events.unregister(EVENT, record)


def fire(routine_id: str, trigger_id: str | None = None) -> RunStatus:
    """Fires as the API does: read the routine (and trigger), then dispatch."""
    routine = routines.get_routine(routine_id)
    assert routine
    trigger = routines.get_trigger(trigger_id) if trigger_id else None
    return start_run(routine, Firing(RunSource.manual, trigger), runtime.now(), runtime.new_id).run.status


@pytest.fixture
def warm(world: World) -> World:
    """The issue-number allocator reserves a block of numbers with one extra request every 20 issues."""
    fire(world.routine(concurrencyPolicy="always_enqueue")["id"])
    return world


@pytest.mark.parametrize(
    ("fields", "fired_before", "status"),
    [
        pytest.param({}, 0, RunStatus.issue_created, id="a manual run"),
        pytest.param({}, 1, RunStatus.coalesced, id="a coalesced run"),
        pytest.param(
            {"concurrencyPolicy": "always_enqueue"},
            1,
            RunStatus.issue_created,
            id="an always-enqueue run beside open issues",
        ),
    ],
)
def test_a_run_is_one_read_and_one_transaction(
    warm: World,
    requests_sent: list[tuple[str, str | None]],
    fields: dict[str, str],
    fired_before: int,
    status: RunStatus,
) -> None:
    routine = warm.routine(**fields)
    for _ in range(fired_before):
        fire(routine["id"])
    requests_sent.clear()

    assert fire(routine["id"]) == status

    assert requests_sent == [("GetItem", table("routines")), ("TransactWriteItems", None)]


def test_a_run_on_a_trigger_adds_only_the_trigger_read(
    warm: World, requests_sent: list[tuple[str, str | None]]
) -> None:
    routine = warm.routine()
    trigger = warm.trigger(routine["id"], kind="api")["trigger"]
    requests_sent.clear()

    assert fire(routine["id"], trigger["id"]) == RunStatus.issue_created

    assert requests_sent == [
        ("GetItem", table("routines")),
        ("GetItem", table("triggers")),
        ("TransactWriteItems", None),
    ]
