"""Manual and API runs: `POST /routines/{id}/run` through the real API and DynamoDB Local."""

import re
from typing import Any

import pytest
import requests

from tests.support import World, json_of

OPEN_STATUSES = ("backlog", "todo", "in_progress", "in_review", "blocked")


def fire(world: World, routine_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(json_of(world.board.post(f"/routines/{routine_id}/run", body or {}), 202))


def runs_of(world: World, routine_id: str) -> list[dict[str, Any]]:
    return list(json_of(world.board.get(f"/routines/{routine_id}/runs", params={"limit": 200})))


def issues_of(world: World, routine_id: str) -> list[dict[str, Any]]:
    return list(json_of(world.board.get(f"/companies/{world.company_id}/issues", params={"originId": routine_id})))


def set_issue_status(world: World, issue_id: str, status: str) -> dict[str, Any]:
    return dict(json_of(world.board.patch(f"/issues/{issue_id}", {"status": status})))


def detail(world: World, routine_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/routines/{routine_id}")))


def issue_prefix(world: World) -> str:
    companies = world.board.get("/companies").json()
    return next(c["issuePrefix"] for c in companies if c["id"] == world.company_id)


def test_a_manual_run_creates_a_todo_execution_issue_built_from_the_routine(world: World) -> None:
    goal = world.board.post(f"/companies/{world.company_id}/goals", {"title": "Grow"}).json()
    parent_run = fire(world, world.routine(title="Parent")["id"])
    routine = world.routine(
        title="Weekly briefing",
        description="Compile the status report",
        goalId=goal["id"],
        parentIssueId=parent_run["linkedIssueId"],
        priority="high",
    )

    run = fire(world, routine["id"])

    assert run["status"] == "issue_created"
    assert run["source"] == "manual"
    assert run["routineId"] == routine["id"]
    assert run["triggerId"] is None
    assert run["completedAt"] is None
    issue = world.board.get(f"/issues/{run['linkedIssueId']}").json()
    assert {k: issue[k] for k in expected_issue_fields()} == {
        "status": "todo",
        "title": "Weekly briefing",
        "description": "Compile the status report",
        "assigneeAgentId": world.alpha_id,
        "projectId": world.project_id,
        "goalId": goal["id"],
        "parentId": parent_run["linkedIssueId"],
        "priority": "high",
        "originKind": "routine_execution",
        "originId": routine["id"],
        "originRunId": run["id"],
        "companyId": world.company_id,
    }
    assert re.fullmatch(rf"{issue_prefix(world)}-\d+", issue["identifier"])


def expected_issue_fields() -> tuple[str, ...]:
    return (
        "status",
        "title",
        "description",
        "assigneeAgentId",
        "projectId",
        "goalId",
        "parentId",
        "priority",
        "originKind",
        "originId",
        "originRunId",
        "companyId",
    )


def test_execution_issues_get_distinct_identifiers_with_the_company_prefix(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    other = world.routine(concurrencyPolicy="always_enqueue")

    linked = [fire(world, rid)["linkedIssueId"] for rid in (routine["id"], other["id"]) * 3]

    identifiers = [world.board.get(f"/issues/{issue_id}").json()["identifier"] for issue_id in linked]
    assert len(set(identifiers)) == 6
    prefix = issue_prefix(world)
    assert all(re.fullmatch(rf"{prefix}-\d+", identifier) for identifier in identifiers)


def test_an_api_run_records_its_source_and_payload(world: World) -> None:
    routine = world.routine()

    run = fire(world, routine["id"], {"source": "api", "payload": {"context": "deploy", "n": 3}})

    assert run["source"] == "api"
    assert run["triggerPayload"] == {"context": "deploy", "n": 3}
    [stored] = runs_of(world, routine["id"])
    assert stored["id"] == run["id"]
    assert stored["source"] == "api"
    assert stored["triggerPayload"] == {"context": "deploy", "n": 3}


def test_the_caller_of_a_manual_run_is_recorded_on_its_issue_but_not_for_api_runs(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")

    manual = world.alpha.post(f"/routines/{routine['id']}/run", {}).json()
    api = world.alpha.post(f"/routines/{routine['id']}/run", {"source": "api"}).json()

    assert world.board.get(f"/issues/{manual['linkedIssueId']}").json()["createdByAgentId"] == world.alpha_id
    assert world.board.get(f"/issues/{api['linkedIssueId']}").json()["createdByAgentId"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"surprise": True},
        {"payload": ["not", "an", "object"]},
        {"payload": "text"},
        {"payload": 7},
        {"source": "schedule"},
        {"source": "webhook"},
        {"triggerId": "not-a-uuid"},
        {"idempotencyKey": "k" * 256},
        {"idempotencyKey": ""},
    ],
)
def test_a_malformed_run_request_is_a_400_and_creates_nothing(world: World, body: dict[str, Any]) -> None:
    routine = world.routine()

    response = world.board.post(f"/routines/{routine['id']}/run", body)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Validation error"
    assert runs_of(world, routine["id"]) == []
    assert issues_of(world, routine["id"]) == []


def test_a_run_body_that_is_not_json_is_a_400(world: World) -> None:
    routine = world.routine()

    response = world.board.post(
        f"/routines/{routine['id']}/run", data=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert runs_of(world, routine["id"]) == []


def test_an_idempotency_key_of_255_characters_is_accepted(world: World) -> None:
    routine = world.routine()

    run = fire(world, routine["id"], {"idempotencyKey": "k" * 255})

    assert run["idempotencyKey"] == "k" * 255


def test_an_archived_routine_cannot_be_run(world: World) -> None:
    routine = world.routine()
    assert world.board.patch(f"/routines/{routine['id']}", {"status": "archived"}).status_code == 200

    response = world.board.post(f"/routines/{routine['id']}/run", {})

    assert response.status_code == 409, response.text
    assert response.json() == {"error": "Routine is archived"}
    assert runs_of(world, routine["id"]) == []
    assert issues_of(world, routine["id"]) == []


def test_a_paused_routine_can_still_be_run_by_hand(world: World) -> None:
    routine = world.routine(status="paused")

    run = fire(world, routine["id"])

    assert run["status"] == "issue_created"
    assert detail(world, routine["id"])["status"] == "paused"


def test_a_draft_without_an_assignee_cannot_be_run(world: World) -> None:
    routine = world.routine(assigneeAgentId=None)

    response = world.board.post(f"/routines/{routine['id']}/run", {})

    assert (response.status_code, response.json()) == (422, {"error": "Default agent required"})
    assert runs_of(world, routine["id"]) == []


def test_a_terminated_assignee_gets_no_new_issue(world: World) -> None:
    routine = world.routine()
    assert world.board.patch(f"/agents/{world.alpha_id}", {"status": "terminated"}).status_code == 200

    response = world.board.post(f"/routines/{routine['id']}/run", {})

    assert response.status_code == 409, response.text
    assert response.json()["details"]["code"] == "agent_not_assignable"
    assert runs_of(world, routine["id"]) == []
    assert issues_of(world, routine["id"]) == []


def test_nulls_are_the_same_as_leaving_fields_out(world: World) -> None:
    routine = world.routine()

    run = fire(world, routine["id"], {"triggerId": None, "payload": None, "idempotencyKey": None})

    assert (run["status"], run["triggerId"], run["triggerPayload"], run["idempotencyKey"]) == (
        "issue_created",
        None,
        None,
        None,
    )


def assert_run_refused(world: World, routine_id: str, trigger_id: str, status: int, error: str) -> None:
    """A run naming this trigger is refused with `status` and `error`, and the routine records no run."""
    response = world.board.post(f"/routines/{routine_id}/run", {"triggerId": trigger_id})
    assert response.status_code == status, response.text
    assert response.json() == {"error": error}
    assert runs_of(world, routine_id) == []


def test_a_trigger_of_another_routine_is_forbidden(world: World) -> None:
    routine, other = world.routine(), world.routine()
    foreign = world.trigger(other["id"], kind="api")["trigger"]

    assert_run_refused(world, routine["id"], foreign["id"], 403, "Trigger does not belong to routine")
    assert runs_of(world, other["id"]) == []


def test_a_disabled_trigger_cannot_be_named_by_a_run(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="api", enabled=False)["trigger"]

    assert_run_refused(world, routine["id"], trigger["id"], 409, "Routine trigger is not active")
    assert issues_of(world, routine["id"]) == []


def test_an_unknown_trigger_id_is_ignored(world: World) -> None:
    routine = world.routine()

    run = fire(world, routine["id"], {"triggerId": "0190aaaa-0000-7000-8000-000000000000"})

    assert run["status"] == "issue_created"
    assert run["triggerId"] is None


def test_a_run_named_after_a_trigger_is_attributed_to_it(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="api", label="ops")["trigger"]

    run = fire(world, routine["id"], {"triggerId": trigger["id"]})

    assert run["triggerId"] == trigger["id"]
    [shown] = detail(world, routine["id"])["triggers"]
    assert shown["lastFiredAt"] == run["triggeredAt"]
    assert shown["lastResult"] == f"Created execution issue {run['linkedIssueId']}"


def test_the_same_idempotency_key_returns_the_same_run_and_creates_nothing(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    first = fire(world, routine["id"], {"idempotencyKey": "deploy-42", "payload": {"a": 1}})

    again = fire(world, routine["id"], {"idempotencyKey": "deploy-42", "payload": {"a": 2}})
    trimmed = fire(world, routine["id"], {"idempotencyKey": "  deploy-42  "})

    assert again == first
    assert trimmed["id"] == first["id"]
    assert [run["id"] for run in runs_of(world, routine["id"])] == [first["id"]]
    assert [issue["id"] for issue in issues_of(world, routine["id"])] == [first["linkedIssueId"]]


def test_an_idempotency_key_is_scoped_by_source_and_trigger(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    trigger = world.trigger(routine["id"], kind="api")["trigger"]
    other_trigger = world.trigger(routine["id"], kind="api")["trigger"]
    other_routine = world.routine(concurrencyPolicy="always_enqueue")
    key = {"idempotencyKey": "same"}

    manual = fire(world, routine["id"], key)
    api = fire(world, routine["id"], {**key, "source": "api"})
    on_trigger = fire(world, routine["id"], {**key, "triggerId": trigger["id"]})
    on_other_trigger = fire(world, routine["id"], {**key, "triggerId": other_trigger["id"]})
    elsewhere = fire(world, other_routine["id"], key)
    repeats = [
        fire(world, routine["id"], key),
        fire(world, routine["id"], {**key, "source": "api"}),
        fire(world, routine["id"], {**key, "triggerId": trigger["id"]}),
    ]

    distinct = [manual, api, on_trigger, on_other_trigger]
    assert len({run["id"] for run in distinct}) == 4
    assert elsewhere["id"] not in {run["id"] for run in distinct}
    assert [run["id"] for run in repeats] == [manual["id"], api["id"], on_trigger["id"]]
    assert len(runs_of(world, routine["id"])) == 4
    assert len(issues_of(world, routine["id"])) == 4


@pytest.mark.parametrize("open_status", OPEN_STATUSES)
@pytest.mark.parametrize(("policy", "outcome"), [("coalesce_if_active", "coalesced"), ("skip_if_active", "skipped")])
def test_an_open_issue_takes_the_firing_without_a_new_issue(
    world: World, policy: str, outcome: str, open_status: str
) -> None:
    routine = world.routine(concurrencyPolicy=policy)
    trigger = world.trigger(routine["id"], kind="api")["trigger"]
    first = fire(world, routine["id"])
    if open_status != "todo":
        set_issue_status(world, first["linkedIssueId"], open_status)

    run = fire(world, routine["id"], {"triggerId": trigger["id"]})

    assert run["status"] == outcome
    assert run["linkedIssueId"] == first["linkedIssueId"]
    assert run["coalescedIntoRunId"] == first["id"]
    assert run["completedAt"] == run["triggeredAt"]
    assert [issue["id"] for issue in issues_of(world, routine["id"])] == [first["linkedIssueId"]]
    [shown] = detail(world, routine["id"])["triggers"]
    expected = {
        "coalesced": "Coalesced into an existing live execution issue",
        "skipped": "Skipped because a live execution issue already exists",
    }[outcome]
    assert shown["lastResult"] == expected


@pytest.mark.parametrize("policy", ["coalesce_if_active", "skip_if_active"])
def test_a_firing_links_to_the_newest_open_issue(world: World, policy: str) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    older, newer = fire(world, routine["id"]), fire(world, routine["id"])
    assert world.board.patch(f"/routines/{routine['id']}", {"concurrencyPolicy": policy}).status_code == 200

    run = fire(world, routine["id"])

    assert run["linkedIssueId"] == newer["linkedIssueId"] != older["linkedIssueId"]
    assert run["coalescedIntoRunId"] == newer["id"]
    assert len(issues_of(world, routine["id"])) == 2


def test_always_enqueue_creates_a_new_issue_every_time(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")

    fired = [fire(world, routine["id"]) for _ in range(3)]

    assert [run["status"] for run in fired] == ["issue_created"] * 3
    linked = {run["linkedIssueId"] for run in fired}
    assert len(linked) == 3
    assert {issue["id"] for issue in issues_of(world, routine["id"])} == linked
    assert {issue["status"] for issue in issues_of(world, routine["id"])} == {"todo"}


def test_the_routine_detail_shows_the_active_issue_and_recent_runs(world: World) -> None:
    routine = world.routine()
    first = fire(world, routine["id"])
    second = fire(world, routine["id"])

    shown = detail(world, routine["id"])

    assert shown["activeIssue"]["id"] == first["linkedIssueId"]
    assert shown["activeIssue"]["status"] == "todo"
    assert [run["id"] for run in shown["recentRuns"]] == [second["id"], first["id"]]
    assert [run["status"] for run in shown["recentRuns"]] == ["coalesced", "issue_created"]
    assert shown["lastTriggeredAt"] == second["triggeredAt"]
    assert shown["lastEnqueuedAt"] is not None


def test_agents_run_only_their_own_routines(world: World) -> None:
    routine = world.routine()

    assert world.bravo.post(f"/routines/{routine['id']}/run", {}).status_code == 403
    assert world.anonymous.post(f"/routines/{routine['id']}/run", {}).status_code == 401
    assert runs_of(world, routine["id"]) == []
    assert world.alpha.post(f"/routines/{routine['id']}/run", {}).status_code == 202


def test_another_companys_routine_cannot_be_run(world: World, other_world: World) -> None:
    routine = world.routine()

    assert other_world.board.post(f"/routines/{routine['id']}/run", {}).status_code == 403
    assert other_world.alpha.post(f"/routines/{routine['id']}/run", {}).status_code == 403
    assert runs_of(world, routine["id"]) == []


@pytest.mark.parametrize("routine_id", ["0190aaaa-0000-7000-8000-000000000000", "nope"])
def test_running_an_unknown_routine_is_a_404(world: World, routine_id: str) -> None:
    assert world.board.post(f"/routines/{routine_id}/run", {}).status_code == 404


def test_a_run_request_without_a_body_is_a_default_manual_run(world: World) -> None:
    routine = world.routine()

    response = requests.post(
        f"{world.base}/routines/{routine['id']}/run",
        headers={"Authorization": f"Bearer {world.board.key}"},
        timeout=30,
    )

    assert response.status_code == 202, response.text
    assert response.json()["source"] == "manual"
