"""The routines and runs lists are bounded pages, walked by cursor; a routines page costs a fixed number of
DynamoDB requests, whatever it lists: its routines' triggers, last runs and issues are read in batches."""

from collections import Counter
from typing import Any

import pytest

from routines.metering import counting_requests
from tests.support import Client, World, json_of


def walk(client: Client, path: str, limit: int, **params: str) -> tuple[list[str], int]:
    """Every id of a paged list, following `X-Next-Cursor` to the end; and how many pages it took."""
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = {"limit": str(limit), **params, **({"nextCursor": cursor} if cursor else {})}
        response = client.get(path, params=page)
        seen += [item["id"] for item in json_of(response)]
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            return seen, pages


def fire(world: World, routine_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.post(f"/routines/{routine_id}/run", {}), 202))


def test_the_routines_list_is_paged_to_the_end(world: World) -> None:
    made = [world.routine(title=f"Routine {n}")["id"] for n in range(7)]

    seen, pages = walk(world.board, f"/companies/{world.company_id}/routines", 3)

    assert pages == 3
    assert seen == list(reversed(made))  # newest change first, each once
    everything = world.board.get(f"/companies/{world.company_id}/routines", params={"limit": "5000"})
    assert len(json_of(everything)) == 7  # clamped to 500, not refused
    assert "X-Next-Cursor" not in everything.headers


def test_a_project_filtered_routines_page_holds_its_limit_of_matches(world: World) -> None:
    wanted = []
    for n in range(6):
        fields = {"projectId": world.project_id} if n % 2 else {"projectId": None}
        routine_id = world.routine(**fields)["id"]
        if n % 2:
            wanted.append(routine_id)

    seen, pages = walk(world.board, f"/companies/{world.company_id}/routines", 2, projectId=world.project_id)

    assert (pages, seen) == (2, list(reversed(wanted)))


def test_the_runs_list_is_paged_to_the_end(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    made = [fire(world, routine["id"])["id"] for _ in range(5)]

    seen, pages = walk(world.board, f"/routines/{routine['id']}/runs", 2)

    assert pages == 3
    assert seen == list(reversed(made))
    assert len(json_of(world.board.get(f"/routines/{routine['id']}/runs"))) == 5


@pytest.mark.parametrize(
    ("path", "params", "status", "error"),
    [
        ("routines", {"limit": "0"}, 400, "limit must be a positive integer up to 500"),
        ("routines", {"limit": "ten"}, 400, "limit must be a positive integer up to 500"),
        ("routines", {"nextCursor": "not-a-cursor"}, 422, "nextCursor is not a cursor this list handed out"),
        ("routines", {"nextCursor": "WyJ4IiwgInkiXQ"}, 422, "nextCursor is not a cursor this list handed out"),
        ("runs", {"nextCursor": "not-a-cursor"}, 422, "nextCursor is not a cursor this list handed out"),
        ("runs", {"nextCursor": "WyJ4Il0"}, 422, "nextCursor is not a cursor this list handed out"),
    ],
)
def test_malformed_list_pages_are_refused(
    world: World, path: str, params: dict[str, str], status: int, error: str
) -> None:
    routine_id = world.routine()["id"]
    url = f"/companies/{world.company_id}/routines" if path == "routines" else f"/routines/{routine_id}/runs"

    response = world.board.get(url, params=params)

    assert (response.status_code, response.json()) == (status, {"error": error})


def test_runs_keep_the_reference_limit_rules(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    for _ in range(3):
        fire(world, routine["id"])
    runs = f"/routines/{routine['id']}/runs"

    assert len(json_of(world.board.get(runs, params={"limit": "ten"}))) == 3  # non-numeric: the default, 50
    assert len(json_of(world.board.get(runs, params={"limit": "0"}))) == 1  # clamped to 1


def list_cost(world: World, limit: int) -> Counter[str]:
    with counting_requests() as sent:
        page = json_of(world.board.get(f"/companies/{world.company_id}/routines", params={"limit": str(limit)}))
    assert len(page) == limit
    assert all(item["lastRun"]["linkedIssue"] and item["activeIssue"] and item["triggers"] for item in page)
    return sent


def test_a_routines_page_costs_the_same_requests_however_many_it_lists(world: World) -> None:
    for _ in range(6):
        routine_id = world.routine()["id"]
        world.trigger(routine_id, kind="api")
        fire(world, routine_id)

    two, six = list_cost(world, 2), list_cost(world, 6)

    per_routine = {operation: (six[operation] - two[operation]) / 4 for operation in six | two}
    assert per_routine == {"Query": 0, "GetItem": 0, "BatchGetItem": 0}
    # the triggers the routines name, the last runs, the active and linked issues
    assert six["BatchGetItem"] == 3
