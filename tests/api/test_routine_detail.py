"""A routine's detail names its project, assignee and parent issue as Paperclip's `getDetail` does, read in
two batches beside the triggers and runs; list items stay lean."""

from collections import Counter
from typing import Any

import pytest

from routines.metering import counting_requests
from tests.support import World, json_of


def agent(world: World, name: str, role: str | None = None) -> dict[str, Any]:
    body = {"name": name, **({"role": role} if role else {})}
    return dict(json_of(world.board.post(f"/companies/{world.company_id}/agents", body), 201))


def issue_of(world: World) -> dict[str, Any]:
    """An execution issue of the world's company (made by running a routine)."""
    run = json_of(world.board.post(f"/routines/{world.routine()['id']}/run", {}), 202)
    return dict(json_of(world.board.get(f"/issues/{run['linkedIssueId']}")))


def detail_of(world: World, routine_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/routines/{routine_id}")))


def test_the_detail_names_its_project_assignee_and_parent_issue(world: World) -> None:
    ops = agent(world, "  Ops Bot #2 ", role="engineer")
    parent = issue_of(world)
    routine = world.routine(assigneeAgentId=ops["id"], parentIssueId=parent["id"])

    detail = detail_of(world, routine["id"])

    [project] = json_of(world.board.get(f"/companies/{world.company_id}/projects"))
    assert detail["project"] == project
    assert detail["assignee"] == {
        "id": ops["id"],
        "name": "Ops Bot #2",
        "role": "engineer",
        "title": None,
        "urlKey": "ops-bot-2",
    }
    assert detail["parentIssue"] == json_of(world.board.get(f"/issues/{parent['id']}"))
    assert (detail["managedByPlugin"], detail["descriptionDocument"]) == (None, None)


def test_a_routine_without_project_assignee_or_parent_has_nulls(world: World) -> None:
    routine = world.routine(assigneeAgentId=None, projectId=None)

    detail = detail_of(world, routine["id"])

    assert (detail["project"], detail["assignee"], detail["parentIssue"]) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "url_key"),
    [("Alpha", "alpha"), ("Release  Captain", "release-captain"), ("--Été 2026--", "t-2026"), ("!!!", None)],
)
def test_the_assignee_url_key_is_the_normalised_name_else_the_id(world: World, name: str, url_key: str | None) -> None:
    named = agent(world, name)
    routine = world.routine(assigneeAgentId=named["id"])

    assert detail_of(world, routine["id"])["assignee"]["urlKey"] == (url_key or named["id"])


def test_the_detail_active_issue_is_the_full_issue(world: World) -> None:
    routine = world.routine()
    run = json_of(world.board.post(f"/routines/{routine['id']}/run", {}), 202)

    detail = detail_of(world, routine["id"])

    assert detail["activeIssue"] == json_of(world.board.get(f"/issues/{run['linkedIssueId']}"))


def detail_cost(world: World, routine_id: str) -> Counter[str]:
    with counting_requests() as sent:
        detail_of(world, routine_id)
    return sent


def test_the_project_assignee_and_parent_cost_one_batch_read_beside_the_issues(world: World) -> None:
    bare = world.routine(assigneeAgentId=None, projectId=None)
    full = world.routine(parentIssueId=issue_of(world)["id"])
    json_of(world.board.post(f"/routines/{full['id']}/run", {}), 202)

    bare_cost, full_cost = detail_cost(world, bare["id"]), detail_cost(world, full["id"])

    assert full_cost - bare_cost == Counter({"BatchGetItem": 2})  # the issues (active, runs', parent); directory
    assert full_cost["Query"] == 2  # its triggers, its runs


def test_list_items_carry_no_detail_objects(world: World) -> None:
    routine = world.routine(parentIssueId=issue_of(world)["id"])

    listed = json_of(world.board.get(f"/companies/{world.company_id}/routines"))
    [item] = [r for r in listed if r["id"] == routine["id"]]

    assert item["managedByPlugin"] is None
    assert not {"project", "assignee", "parentIssue", "descriptionDocument"} & set(item)
