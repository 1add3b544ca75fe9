"""Routines over HTTP: create, change, read, the lifecycle, run history and who may do what."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from chalicelib import runtime
from chalicelib.domain.timefmt import to_iso
from chalicelib.services import directory
from chalicelib.store.tables import RunItem
from tests.support import SESSION, Client, World, json_of

UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"
MANAGE_ONLY_OWN = "Agents can only manage routines assigned to themselves"
ASSIGN_ONLY_SELF = "Agents can only assign routines to themselves"


def _routines(world: World, query: str = "") -> list[dict[str, Any]]:
    return list(json_of(world.board.get(f"/companies/{world.company_id}/routines{query}")))


def _get(world: World, routine_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/routines/{routine_id}")))


def _create(world: World, client: Client | None = None, **fields: Any) -> requests.Response:
    body = {"title": "Daily digest", "assigneeAgentId": world.alpha_id, "projectId": world.project_id, **fields}
    return (client or world.board).post(f"/companies/{world.company_id}/routines", body)


def _run(world: World, routine_id: str, client: Client | None = None) -> dict[str, Any]:
    return dict(json_of((client or world.board).post(f"/routines/{routine_id}/run", {}), 202))


def _issue_of(world: World) -> str:
    """An execution issue of the world's company (made by running a routine)."""
    return str(_run(world, world.routine()["id"])["linkedIssueId"])


def _goal(world: World) -> str:
    response = world.board.post(f"/companies/{world.company_id}/goals", {"title": "Grow"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _deliver(material: dict[str, str]) -> requests.Response:
    """A bearer webhook delivery with the secret the trigger was created with."""
    headers = {"Authorization": f"Bearer {material['webhookSecret']}"}
    return SESSION.post(material["webhookUrl"], json={}, headers=headers, timeout=30)


def _set_agent_status(world: World, agent_id: str, status: str) -> None:
    assert world.board.patch(f"/agents/{agent_id}", {"status": status}).status_code == 200


# Create


def test_a_routine_is_created_with_the_documented_defaults(world: World) -> None:
    response = _create(world, description="Summarise yesterday")
    assert response.status_code == 201, response.text
    routine = response.json()
    assert {key: routine[key] for key in ("priority", "status", "concurrencyPolicy", "catchUpPolicy")} == {
        "priority": "medium",
        "status": "active",
        "concurrencyPolicy": "coalesce_if_active",
        "catchUpPolicy": "skip_missed",
    }
    assert (routine["title"], routine["description"]) == ("Daily digest", "Summarise yesterday")
    assert (routine["companyId"], routine["assigneeAgentId"], routine["projectId"]) == (
        world.company_id,
        world.alpha_id,
        world.project_id,
    )
    assert _get(world, routine["id"])["title"] == "Daily digest"


def test_a_routine_keeps_every_field_it_was_created_with(world: World) -> None:
    goal_id, parent_id = _goal(world), _issue_of(world)
    fields = {
        "priority": "critical",
        "status": "paused",
        "concurrencyPolicy": "skip_if_active",
        "catchUpPolicy": "enqueue_missed_with_cap",
        "goalId": goal_id,
        "parentIssueId": parent_id,
    }
    created = _create(world, **fields)
    assert created.status_code == 201, created.text
    stored = _get(world, created.json()["id"])
    assert {key: stored[key] for key in fields} == fields


def test_a_title_is_trimmed(world: World) -> None:
    response = _create(world, title="   Weekly report \n")
    assert response.status_code == 201, response.text
    assert _get(world, response.json()["id"])["title"] == "Weekly report"


@pytest.mark.parametrize("length", [1, 200])
def test_a_title_of_1_to_200_characters_is_accepted(world: World, length: int) -> None:
    response = _create(world, title="x" * length)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "x" * length


@pytest.mark.parametrize("title", ["", "   ", "x" * 201, None, 42])
def test_a_title_outside_1_to_200_characters_is_400(world: World, title: Any) -> None:
    response = _create(world, title=title)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Validation error"
    assert [detail["path"] for detail in body["details"]] == ["title"]
    assert _routines(world) == []


@pytest.mark.parametrize("field", ["priority", "status", "concurrencyPolicy", "catchUpPolicy"])
def test_an_unknown_enum_value_is_400_with_details(world: World, field: str) -> None:
    response = _create(world, **{field: "sometimes"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Validation error"
    assert isinstance(body["details"], list)
    assert [detail["path"] for detail in body["details"]] == [field]
    assert _routines(world) == []


@pytest.mark.parametrize("key", ["triggers", "variables_", "companyId", "id"])
def test_an_unknown_body_key_is_400(world: World, key: str) -> None:
    response = _create(world, **{key: []})
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    assert _routines(world) == []


def _assert_reference_refused(world: World, field: str, reference: str, status: int, message: str) -> None:
    """Neither creating a routine nor updating one with this reference succeeds, and neither writes it."""
    created = _create(world, **{field: reference})
    assert created.status_code == status
    assert created.json() == {"error": message}
    assert _routines(world) == []
    routine = world.routine()
    updated = world.board.patch(f"/routines/{routine['id']}", {field: reference})
    assert updated.status_code == status
    assert updated.json() == {"error": message}
    assert _get(world, routine["id"])[field] == routine[field]


@pytest.mark.parametrize(
    ("field", "foreign", "message"),
    [
        ("projectId", lambda w: w.project_id, "Project must belong to same company"),
        ("goalId", _goal, "Goal must belong to same company"),
        ("parentIssueId", _issue_of, "Parent issue must belong to same company"),
        ("assigneeAgentId", lambda w: w.alpha_id, "Assignee must belong to same company"),
    ],
)
def test_a_reference_to_another_company_is_422_on_create_and_update(
    world: World, other_world: World, field: str, foreign: Callable[[World], str], message: str
) -> None:
    _assert_reference_refused(world, field, foreign(other_world), 422, message)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("projectId", "Project not found"),
        ("goalId", "Goal not found"),
        ("parentIssueId", "Parent issue not found"),
        ("assigneeAgentId", "Assignee agent not found"),
    ],
)
def test_an_unknown_reference_is_404_on_create_and_update(world: World, field: str, message: str) -> None:
    _assert_reference_refused(world, field, UNKNOWN_ID, 404, message)


def test_an_id_of_the_wrong_kind_is_not_a_reference(world: World) -> None:
    response = _create(world, projectId=world.alpha_id)
    assert response.status_code == 404
    assert response.json() == {"error": "Project not found"}


def test_an_active_routine_without_an_assignee_is_stored_paused(world: World) -> None:
    response = _create(world, assigneeAgentId=None, status="active")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "paused"
    assert _get(world, response.json()["id"])["status"] == "paused"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("terminated", "Cannot assign routines to terminated agents"),
        ("pending_approval", "Cannot assign routines to pending approval agents"),
    ],
)
def test_an_unassignable_agent_is_409_on_create_and_update(world: World, status: str, message: str) -> None:
    routine = world.routine()
    _set_agent_status(world, world.bravo_id, status)
    created = _create(world, assigneeAgentId=world.bravo_id)
    assert created.status_code == 409
    assert created.json()["error"] == message
    updated = world.board.patch(f"/routines/{routine['id']}", {"assigneeAgentId": world.bravo_id})
    assert updated.status_code == 409
    assert updated.json()["error"] == message
    assert [r["id"] for r in _routines(world)] == [routine["id"]]
    assert _get(world, routine["id"])["assigneeAgentId"] == world.alpha_id


def test_a_paused_agent_can_still_be_assigned(world: World) -> None:
    _set_agent_status(world, world.bravo_id, "paused")
    assert _create(world, assigneeAgentId=world.bravo_id).status_code == 201


def test_routines_cannot_be_created_in_an_unknown_company(world: World) -> None:
    root = Client(world.base, directory.create_board_key(None, "root", runtime.now()))
    body = {"title": "Orphan"}
    for company_id in (UNKNOWN_ID, "not-a-company"):
        assert root.post(f"/companies/{company_id}/routines", body).status_code == 404
        assert root.get(f"/companies/{company_id}/routines").status_code == 404


# Update and lifecycle


def test_every_create_field_can_be_updated(world: World) -> None:
    routine = world.routine()
    goal_id, parent_id = _goal(world), _issue_of(world)
    changes = {
        "title": "  Renamed  ",
        "description": "New text",
        "assigneeAgentId": world.bravo_id,
        "goalId": goal_id,
        "parentIssueId": parent_id,
        "priority": "low",
        "status": "paused",
        "concurrencyPolicy": "always_enqueue",
        "catchUpPolicy": "enqueue_missed_with_cap",
    }
    response = world.board.patch(f"/routines/{routine['id']}", changes)
    assert response.status_code == 200, response.text
    stored = _get(world, routine["id"])
    assert {key: stored[key] for key in changes} == {**changes, "title": "Renamed"}


def test_an_update_changes_only_the_fields_it_names(world: World) -> None:
    routine = world.routine(description="Keep me", priority="high")
    response = world.board.patch(f"/routines/{routine['id']}", {"title": "Only this"})
    assert response.status_code == 200, response.text
    stored = _get(world, routine["id"])
    assert (stored["title"], stored["description"], stored["priority"]) == ("Only this", "Keep me", "high")


@pytest.mark.parametrize("field", ["title", "priority", "status", "concurrencyPolicy", "catchUpPolicy"])
def test_a_required_field_cannot_be_updated_to_null(world: World, field: str) -> None:
    routine = world.routine()
    response = world.board.patch(f"/routines/{routine['id']}", {field: None})
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    assert _get(world, routine["id"])[field] == routine[field]


def test_activating_without_an_assignee_is_422(world: World) -> None:
    draft = world.routine(assigneeAgentId=None)
    response = world.board.patch(f"/routines/{draft['id']}", {"status": "active"})
    assert response.status_code == 422
    assert response.json() == {"error": "Default agent required"}
    assert _get(world, draft["id"])["status"] == "paused"


def test_clearing_the_assignee_of_an_active_routine_pauses_it(world: World) -> None:
    routine = world.routine()
    response = world.board.patch(f"/routines/{routine['id']}", {"assigneeAgentId": None})
    assert response.status_code == 200, response.text
    assert _get(world, routine["id"])["status"] == "paused"


def test_a_routine_moves_between_active_and_paused(world: World) -> None:
    routine = world.routine()
    for status in ("paused", "active", "paused"):
        response = world.board.patch(f"/routines/{routine['id']}", {"status": status})
        assert response.status_code == 200, response.text
        assert _get(world, routine["id"])["status"] == status


@pytest.mark.parametrize("status", ["active", "paused"])
def test_an_archived_routine_cannot_leave_archived(world: World, status: str) -> None:
    routine = world.routine()
    assert world.board.patch(f"/routines/{routine['id']}", {"status": "archived"}).status_code == 200
    response = world.board.patch(f"/routines/{routine['id']}", {"status": status})
    assert response.status_code == 409
    assert "error" in response.json()
    assert _get(world, routine["id"])["status"] == "archived"


def test_an_archived_routine_cannot_be_run(world: World) -> None:
    routine = world.routine(status="archived")
    response = world.board.post(f"/routines/{routine['id']}/run", {})
    assert response.status_code == 409
    assert response.json() == {"error": "Routine is archived"}
    assert world.board.get(f"/routines/{routine['id']}/runs").json() == []


# Read


def test_the_list_holds_every_routine_of_the_company_and_filters_by_project(world: World) -> None:
    other_project = world.board.post(f"/companies/{world.company_id}/projects", {"name": "Side"}).json()["id"]
    first = world.routine()
    second = world.routine(projectId=other_project)
    third = world.routine(projectId=None)
    assert {r["id"] for r in _routines(world)} == {first["id"], second["id"], third["id"]}
    assert [r["id"] for r in _routines(world, f"?projectId={world.project_id}")] == [first["id"]]
    assert [r["id"] for r in _routines(world, f"?projectId={other_project}")] == [second["id"]]
    assert _routines(world, f"?projectId={UNKNOWN_ID}") == []


def test_the_list_shows_newest_change_first_with_triggers_last_run_and_active_issue(world: World) -> None:
    older = world.routine(title="Older")
    newer = world.routine(title="Newer")
    trigger = world.trigger(older["id"], kind="api", label="by hand")["trigger"]
    run = _run(world, older["id"])
    world.board.patch(f"/routines/{older['id']}", {"description": "touched"})
    listed = _routines(world)
    assert [r["id"] for r in listed] == [older["id"], newer["id"]]
    item = listed[0]
    assert [t["id"] for t in item["triggers"]] == [trigger["id"]]
    assert item["triggers"][0]["label"] == "by hand"
    assert item["lastRun"]["id"] == run["id"]
    assert item["activeIssue"]["id"] == run["linkedIssueId"]
    assert (listed[1]["lastRun"], listed[1]["activeIssue"], listed[1]["triggers"]) == (None, None, [])


def test_the_detail_has_triggers_recent_runs_and_the_active_issue(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    triggers = [world.trigger(routine["id"], kind="api", label=str(n))["trigger"]["id"] for n in range(2)]
    runs = [_run(world, routine["id"])["id"] for _ in range(27)]
    detail = _get(world, routine["id"])
    assert [t["id"] for t in detail["triggers"]] == triggers
    assert [r["id"] for r in detail["recentRuns"]] == runs[::-1][:25]
    newest = detail["recentRuns"][0]
    assert detail["activeIssue"]["id"] == newest["linkedIssueId"]
    assert detail["activeIssue"]["status"] == "todo"


def test_a_routine_never_run_has_no_runs_and_no_active_issue(world: World) -> None:
    detail = _get(world, world.routine()["id"])
    assert (detail["triggers"], detail["recentRuns"], detail["activeIssue"]) == ([], [], None)


# Run history


def _enqueue(world: World, count: int) -> tuple[str, list[str]]:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    return routine["id"], [_run(world, routine["id"])["id"] for _ in range(count)]


def _run_ids(world: World, routine_id: str, query: str = "") -> list[str]:
    response = world.alpha.get(f"/routines/{routine_id}/runs{query}")
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()]


def test_runs_are_listed_newest_first_with_a_default_limit_of_50(world: World) -> None:
    routine_id, created = _enqueue(world, 52)
    newest_first = created[::-1]
    assert _run_ids(world, routine_id) == newest_first[:50]
    assert _run_ids(world, routine_id, "?limit=3") == newest_first[:3]
    assert _run_ids(world, routine_id, "?limit=60") == newest_first


@pytest.mark.parametrize(("query", "expected"), [("0", 1), ("-7", 1), ("1", 1), ("abc", 4), ("", 4), ("2.5", 4)])
def test_the_run_limit_is_clamped_and_non_numbers_mean_the_default(world: World, query: str, expected: int) -> None:
    routine_id, created = _enqueue(world, 4)
    assert _run_ids(world, routine_id, f"?limit={query}") == created[::-1][:expected]


def _seed_runs(world: World, routine_id: str, count: int) -> list[str]:
    """Writes `count` run items in batches: 200+ dispatches over HTTP would take DynamoDB Local ~20 s."""
    stamp = to_iso(runtime.now())
    ids = [runtime.new_id() for _ in range(count)]
    with RunItem.batch_write() as batch:
        for run_id in ids:
            batch.save(
                RunItem(
                    routine_id,
                    run_id,
                    companyId=world.company_id,
                    source="api",
                    status="completed",
                    triggeredAt=stamp,
                    createdAt=stamp,
                    updatedAt=stamp,
                )
            )
    return ids


def test_the_run_limit_is_at_most_200(world: World) -> None:
    routine_id, created = _enqueue(world, 1)
    newest_first = [*created, *_seed_runs(world, routine_id, 200)][::-1]
    assert _run_ids(world, routine_id, "?limit=500") == newest_first[:200]
    assert _run_ids(world, routine_id, "?limit=99999999999999999999") == newest_first[:200]
    assert _run_ids(world, routine_id, "?limit=200") == newest_first[:200]


# Authorization


@dataclass
class Attempt:
    """A call and a way to tell whether it changed anything."""

    response: requests.Response
    took_effect: Callable[[], bool] | None = None


def _read_detail(world: World, client: Client) -> Attempt:
    return Attempt(client.get(f"/routines/{world.routine()['id']}"))


def _read_list(world: World, client: Client) -> Attempt:
    world.routine()
    return Attempt(client.get(f"/companies/{world.company_id}/routines"))


def _read_runs(world: World, client: Client) -> Attempt:
    routine = world.routine()
    _run(world, routine["id"])
    return Attempt(client.get(f"/routines/{routine['id']}/runs"))


def _create_own(world: World, client: Client) -> Attempt:
    response = _create(world, client, title="Mine")
    return Attempt(response, lambda: [r["title"] for r in _routines(world)] == ["Mine"])


def _update(world: World, client: Client) -> Attempt:
    routine = world.routine()
    response = client.patch(f"/routines/{routine['id']}", {"title": "Changed"})
    return Attempt(response, lambda: _get(world, routine["id"])["title"] == "Changed")


def _create_trigger(world: World, client: Client) -> Attempt:
    routine = world.routine()
    response = client.post(f"/routines/{routine['id']}/triggers", {"kind": "schedule", "cronExpression": "0 9 * * *"})
    return Attempt(response, lambda: len(_get(world, routine["id"])["triggers"]) == 1)


def _update_trigger(world: World, client: Client) -> Attempt:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="api")["trigger"]
    response = client.patch(f"/routine-triggers/{trigger['id']}", {"label": "Changed"})
    return Attempt(response, lambda: _get(world, routine["id"])["triggers"][0]["label"] == "Changed")


def _delete_trigger(world: World, client: Client) -> Attempt:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="api")["trigger"]
    response = client.delete(f"/routine-triggers/{trigger['id']}")
    return Attempt(response, lambda: _get(world, routine["id"])["triggers"] == [])


def _rotate_secret(world: World, client: Client) -> Attempt:
    routine = world.routine()
    created = world.trigger(routine["id"], kind="webhook")
    response = client.post(f"/routine-triggers/{created['trigger']['id']}/rotate-secret", {})
    return Attempt(response, lambda: _deliver(created["secretMaterial"]).status_code == 401)


def _run_now(world: World, client: Client) -> Attempt:
    routine = world.routine()
    response = client.post(f"/routines/{routine['id']}/run", {})
    return Attempt(response, lambda: world.board.get(f"/routines/{routine['id']}/runs").json() != [])


READS = {"read detail": _read_detail, "read list": _read_list, "read runs": _read_runs}
MANAGES = {
    "create": (_create_own, 201),
    "update": (_update, 200),
    "create trigger": (_create_trigger, 201),
    "update trigger": (_update_trigger, 200),
    "delete trigger": (_delete_trigger, 204),
    "rotate secret": (_rotate_secret, 200),
    "run": (_run_now, 202),
}


def _actor(world: World, other_world: World, name: str) -> Client:
    return {
        "assignee agent": world.alpha,
        "other agent": world.bravo,
        "board": world.board,
        "other company board": other_world.board,
        "other company agent": other_world.alpha,
        "no key": world.anonymous,
    }[name]


@pytest.mark.parametrize("operation", READS)
@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("assignee agent", 200),
        ("other agent", 200),
        ("board", 200),
        ("other company board", 403),
        ("other company agent", 403),
        ("no key", 401),
    ],
)
def test_who_may_read_routines(world: World, other_world: World, operation: str, actor: str, status: int) -> None:
    attempt = READS[operation](world, _actor(world, other_world, actor))
    assert attempt.response.status_code == status, attempt.response.text


@pytest.mark.parametrize("operation", MANAGES)
@pytest.mark.parametrize(
    ("actor", "denied", "message"),
    [
        ("assignee agent", None, None),
        ("board", None, None),
        ("other agent", 403, MANAGE_ONLY_OWN),
        ("other company board", 403, "Board key cannot access another company"),
        ("other company agent", 403, "Agent key cannot access another company"),
        ("no key", 401, "Unauthorized"),
    ],
)
def test_who_may_manage_a_routine(
    world: World, other_world: World, operation: str, actor: str, denied: int | None, message: str | None
) -> None:
    act, success = MANAGES[operation]
    attempt = act(world, _actor(world, other_world, actor))
    assert attempt.took_effect is not None
    if denied is None:
        assert attempt.response.status_code == success, attempt.response.text
        assert attempt.took_effect()
    else:
        assert attempt.response.status_code == denied, attempt.response.text
        assert attempt.response.json() == {"error": message}
        assert not attempt.took_effect()


def test_an_agent_reads_another_agents_routine(world: World) -> None:
    routine = world.routine(assigneeAgentId=world.alpha_id)
    response = world.bravo.get(f"/routines/{routine['id']}")
    assert response.status_code == 200
    assert response.json()["assigneeAgentId"] == world.alpha_id


@pytest.mark.parametrize("assignee", ["bravo", None])
def test_an_agent_can_only_create_routines_assigned_to_itself(world: World, assignee: str | None) -> None:
    response = _create(world, world.alpha, assigneeAgentId=world.bravo_id if assignee else None)
    assert response.status_code == 403
    assert response.json() == {"error": MANAGE_ONLY_OWN}
    assert _routines(world) == []


def test_an_agent_creates_a_routine_for_itself(world: World) -> None:
    routine = world.routine(world.alpha)
    assert (routine["assigneeAgentId"], routine["createdByAgentId"]) == (world.alpha_id, world.alpha_id)


@pytest.mark.parametrize("assignee", ["bravo", None])
def test_an_agent_cannot_assign_a_routine_to_another_agent(world: World, assignee: str | None) -> None:
    routine = world.routine()
    response = world.alpha.patch(
        f"/routines/{routine['id']}", {"assigneeAgentId": world.bravo_id if assignee else None}
    )
    assert response.status_code == 403
    assert response.json() == {"error": ASSIGN_ONLY_SELF}
    assert _get(world, routine["id"])["assigneeAgentId"] == world.alpha_id


def test_an_agent_may_name_itself_as_assignee(world: World) -> None:
    routine = world.routine()
    response = world.alpha.patch(f"/routines/{routine['id']}", {"assigneeAgentId": world.alpha_id, "title": "Same"})
    assert response.status_code == 200, response.text
    assert response.json()["updatedByAgentId"] == world.alpha_id


def test_a_board_key_reassigns_and_the_new_assignee_takes_over(world: World) -> None:
    routine = world.routine()
    response = world.board.patch(f"/routines/{routine['id']}", {"assigneeAgentId": world.bravo_id})
    assert response.status_code == 200, response.text
    assert _get(world, routine["id"])["assigneeAgentId"] == world.bravo_id
    assert world.bravo.patch(f"/routines/{routine['id']}", {"title": "Bravo's now"}).status_code == 200
    denied = world.alpha.patch(f"/routines/{routine['id']}", {"title": "Alpha's again"})
    assert denied.status_code == 403
    assert denied.json() == {"error": MANAGE_ONLY_OWN}
    assert _get(world, routine["id"])["title"] == "Bravo's now"


def test_an_agent_cannot_run_or_add_triggers_to_another_agents_routine(world: World) -> None:
    routine = world.routine(assigneeAgentId=world.bravo_id)
    run = world.alpha.post(f"/routines/{routine['id']}/run", {})
    trigger = world.alpha.post(f"/routines/{routine['id']}/triggers", {"kind": "api"})
    assert (run.status_code, trigger.status_code) == (403, 403)
    detail = _get(world, routine["id"])
    assert (detail["recentRuns"], detail["triggers"]) == ([], [])
