"""Execution issues: reading, filtering, and closing them finishes their runs and frees their routines."""

from typing import Any

import pytest

from tests.support import World

UNKNOWN_ID = "0190aaaa-0000-7000-8000-000000000000"


def fire(world: World, routine_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = world.board.post(f"/routines/{routine_id}/run", body or {})
    assert response.status_code == 202, response.text
    return dict(response.json())


def list_issues(world: World, **params: str) -> list[dict[str, Any]]:
    response = world.board.get(f"/companies/{world.company_id}/issues", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def close(world: World, issue_id: str, status: str = "done") -> dict[str, Any]:
    response = world.board.patch(f"/issues/{issue_id}", {"status": status})
    assert response.status_code == 200, response.text
    return dict(response.json())


def run_of(world: World, routine_id: str, run_id: str) -> dict[str, Any]:
    runs = world.board.get(f"/routines/{routine_id}/runs").json()
    return dict(next(run for run in runs if run["id"] == run_id))


def detail(world: World, routine_id: str) -> dict[str, Any]:
    return dict(world.board.get(f"/routines/{routine_id}").json())


def test_issues_are_listed_by_company_and_filtered(world: World, other_world: World) -> None:
    for_alpha = world.routine(concurrencyPolicy="always_enqueue")
    for_bravo = world.routine(assigneeAgentId=world.bravo_id)
    a1, a2 = fire(world, for_alpha["id"]), fire(world, for_alpha["id"])
    b1 = fire(world, for_bravo["id"])
    fire(other_world, other_world.routine()["id"])
    close(world, a2["linkedIssueId"])

    assert ids(list_issues(world)) == {a1["linkedIssueId"], a2["linkedIssueId"], b1["linkedIssueId"]}
    assert ids(list_issues(world, assigneeAgentId=world.alpha_id)) == {a1["linkedIssueId"], a2["linkedIssueId"]}
    assert ids(list_issues(world, assigneeAgentId=world.bravo_id)) == {b1["linkedIssueId"]}
    assert ids(list_issues(world, status="todo")) == {a1["linkedIssueId"], b1["linkedIssueId"]}
    assert ids(list_issues(world, status="done")) == {a2["linkedIssueId"]}
    assert ids(list_issues(world, originId=for_bravo["id"])) == {b1["linkedIssueId"]}
    assert ids(list_issues(world, assigneeAgentId=world.alpha_id, status="todo", originId=for_alpha["id"])) == {
        a1["linkedIssueId"]
    }
    assert list_issues(world, assigneeAgentId=other_world.alpha_id) == []


def test_issues_of_another_company_are_hidden(world: World, other_world: World) -> None:
    run = fire(world, world.routine()["id"])

    assert other_world.board.get(f"/companies/{world.company_id}/issues").status_code == 403
    assert other_world.alpha.get(f"/companies/{world.company_id}/issues").status_code == 403
    assert other_world.board.get(f"/issues/{run['linkedIssueId']}").status_code == 403
    assert other_world.board.patch(f"/issues/{run['linkedIssueId']}", {"status": "done"}).status_code == 403
    assert world.anonymous.get(f"/issues/{run['linkedIssueId']}").status_code == 401
    assert world.board.get(f"/issues/{run['linkedIssueId']}").json()["status"] == "todo"


def test_any_agent_of_the_company_reads_an_issue(world: World) -> None:
    run = fire(world, world.routine()["id"])

    response = world.bravo.get(f"/issues/{run['linkedIssueId']}")

    assert response.status_code == 200, response.text
    assert response.json()["id"] == run["linkedIssueId"]


@pytest.mark.parametrize("issue_id", [UNKNOWN_ID, "nope"])
def test_an_unknown_issue_is_a_404(world: World, issue_id: str) -> None:
    assert world.board.get(f"/issues/{issue_id}").status_code == 404
    assert world.board.patch(f"/issues/{issue_id}", {"status": "done"}).status_code == 404


def test_agents_update_only_their_own_issues(world: World) -> None:
    run = fire(world, world.routine()["id"])
    issue_id = run["linkedIssueId"]

    assert world.bravo.patch(f"/issues/{issue_id}", {"status": "done"}).status_code == 403
    assert world.alpha.patch(f"/issues/{issue_id}", {"assigneeAgentId": world.bravo_id}).status_code == 403
    assert world.board.get(f"/issues/{issue_id}").json()["status"] == "todo"
    assert run_of(world, run["routineId"], run["id"])["status"] == "issue_created"

    response = world.alpha.patch(f"/issues/{issue_id}", {"status": "in_progress", "title": "Working"})

    assert response.status_code == 200, response.text
    stored = world.board.get(f"/issues/{issue_id}").json()
    assert (stored["status"], stored["title"]) == ("in_progress", "Working")


def test_the_board_may_reassign_an_issue(world: World) -> None:
    run = fire(world, world.routine()["id"])

    response = world.board.patch(f"/issues/{run['linkedIssueId']}", {"assigneeAgentId": world.bravo_id})

    assert response.status_code == 200, response.text
    assert world.board.get(f"/issues/{run['linkedIssueId']}").json()["assigneeAgentId"] == world.bravo_id
    assert ids(list_issues(world, assigneeAgentId=world.bravo_id)) == {run["linkedIssueId"]}
    assert world.bravo.patch(f"/issues/{run['linkedIssueId']}", {"status": "done"}).status_code == 200


def test_an_issue_cannot_be_assigned_to_an_unknown_or_foreign_agent(world: World, other_world: World) -> None:
    run = fire(world, world.routine()["id"])
    path = f"/issues/{run['linkedIssueId']}"

    unknown = world.board.patch(path, {"assigneeAgentId": UNKNOWN_ID})
    foreign = world.board.patch(path, {"assigneeAgentId": other_world.alpha_id})

    assert (unknown.status_code, unknown.json()) == (404, {"error": "Assignee agent not found"})
    assert (foreign.status_code, foreign.json()) == (422, {"error": "Assignee must belong to same company"})
    assert world.board.get(path).json()["assigneeAgentId"] == world.alpha_id


@pytest.mark.parametrize(
    "body", [{"status": "finished"}, {"status": None}, {"title": ""}, {"colour": "red"}, {"priority": "urgent"}]
)
def test_a_malformed_issue_update_is_a_400(world: World, body: dict[str, Any]) -> None:
    run = fire(world, world.routine()["id"])

    response = world.board.patch(f"/issues/{run['linkedIssueId']}", body)

    assert response.status_code == 400, response.text
    assert world.board.get(f"/issues/{run['linkedIssueId']}").json()["status"] == "todo"


def test_done_completes_the_run_and_frees_the_routine(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    coalesced = fire(world, routine["id"])

    closed = close(world, run["linkedIssueId"], "done")

    finished = run_of(world, routine["id"], run["id"])
    assert finished["status"] == "completed"
    assert finished["completedAt"] == closed["updatedAt"]
    assert finished["failureReason"] is None
    assert run_of(world, routine["id"], coalesced["id"])["status"] == "coalesced"
    assert detail(world, routine["id"])["activeIssue"] is None


def test_cancelled_fails_the_run_with_a_reason(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])

    closed = close(world, run["linkedIssueId"], "cancelled")

    finished = run_of(world, routine["id"], run["id"])
    assert finished["status"] == "failed"
    assert finished["failureReason"] == "Execution issue moved to cancelled"
    assert finished["completedAt"] == closed["updatedAt"]
    assert detail(world, routine["id"])["activeIssue"] is None


@pytest.mark.parametrize("closed_as", ["done", "cancelled"])
def test_the_next_firing_after_closing_creates_a_new_issue(world: World, closed_as: str) -> None:
    routine = world.routine(concurrencyPolicy="skip_if_active")
    first = fire(world, routine["id"])
    close(world, first["linkedIssueId"], closed_as)

    second = fire(world, routine["id"])

    assert second["status"] == "issue_created"
    assert second["linkedIssueId"] != first["linkedIssueId"]
    assert detail(world, routine["id"])["activeIssue"]["id"] == second["linkedIssueId"]
    assert len(list_issues(world, originId=routine["id"])) == 2


@pytest.mark.parametrize("closed_as", ["done", "cancelled"])
def test_reopening_an_issue_makes_it_active_again(world: World, closed_as: str) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    close(world, run["linkedIssueId"], closed_as)

    close(world, run["linkedIssueId"], "in_progress")

    reopened = run_of(world, routine["id"], run["id"])
    assert reopened["status"] == "issue_created"
    assert reopened["completedAt"] is None
    assert reopened["failureReason"] is None
    assert detail(world, routine["id"])["activeIssue"]["id"] == run["linkedIssueId"]
    again = fire(world, routine["id"])
    assert again["status"] == "coalesced"
    assert again["linkedIssueId"] == run["linkedIssueId"]


def test_moving_between_open_statuses_keeps_the_run_open(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])

    for status in ("in_progress", "blocked", "in_review", "backlog"):
        close(world, run["linkedIssueId"], status)

    assert run_of(world, routine["id"], run["id"])["status"] == "issue_created"
    assert detail(world, routine["id"])["activeIssue"]["status"] == "backlog"


@pytest.mark.parametrize(
    ("first", "then", "outcome", "reason"),
    [
        ("done", "cancelled", "failed", "Execution issue moved to cancelled"),
        ("cancelled", "done", "completed", None),
    ],
)
def test_a_run_follows_its_issue_from_one_closed_status_to_another(
    world: World, first: str, then: str, outcome: str, reason: str | None
) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    close(world, run["linkedIssueId"], first)

    closed = close(world, run["linkedIssueId"], then)

    finished = run_of(world, routine["id"], run["id"])
    assert (finished["status"], finished["failureReason"]) == (outcome, reason)
    assert finished["completedAt"] == closed["updatedAt"]
    assert detail(world, routine["id"])["activeIssue"] is None
    assert fire(world, routine["id"])["status"] == "issue_created"


def test_closing_twice_with_the_same_status_changes_nothing_more(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    first = close(world, run["linkedIssueId"], "done")

    close(world, run["linkedIssueId"], "done")

    finished = run_of(world, routine["id"], run["id"])
    assert (finished["status"], finished["completedAt"]) == ("completed", first["updatedAt"])
    assert detail(world, routine["id"])["activeIssue"] is None


def test_closing_one_of_several_open_issues_keeps_the_others_active(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    older, newer = fire(world, routine["id"]), fire(world, routine["id"])

    close(world, newer["linkedIssueId"])

    assert detail(world, routine["id"])["activeIssue"]["id"] == older["linkedIssueId"]
    assert world.board.patch(f"/routines/{routine['id']}", {"concurrencyPolicy": "coalesce_if_active"}).ok
    run = fire(world, routine["id"])
    assert (run["status"], run["linkedIssueId"], run["coalescedIntoRunId"]) == (
        "coalesced",
        older["linkedIssueId"],
        older["id"],
    )
