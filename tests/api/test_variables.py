"""Routine variables through the API: definitions, sync, the 400/422 texts, templating per source, and
coalescing by what a firing would create."""

import json
from collections import Counter
from typing import Any

import pytest

from tests.concurrency.test_exactly_once import all_at_once, post
from tests.support import World, json_of

REPO = {"name": "repo", "type": "select", "options": ["web", "api"]}


def issue_of(world: World, run: dict[str, Any]) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/issues/{run['linkedIssueId']}")))


def run(world: World, routine: dict[str, Any], body: dict[str, Any], status: int = 202) -> dict[str, Any]:
    return dict(json_of(world.board.post(f"/routines/{routine['id']}/run", body), status))


def test_variables_are_synced_with_the_placeholders_on_create_and_update(world: World) -> None:
    routine = world.routine(
        title="Deploy {{repo}} {{date}}",
        description="By {{dueDate}}",
        variables=[REPO, {"name": "unused"}],
    )
    assert [(v["name"], v["type"]) for v in routine["variables"]] == [("repo", "select"), ("dueDate", "date")]
    assert routine["variables"][0] == {
        "name": "repo",
        "label": None,
        "type": "select",
        "defaultValue": None,
        "required": True,
        "options": ["web", "api"],
    }

    changed = json_of(world.board.patch(f"/routines/{routine['id']}", {"description": "{{note}}"}))

    assert [v["name"] for v in changed["variables"]] == ["repo", "note"]
    assert changed["variables"][0]["options"] == ["web", "api"]


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ({"name": "1repo"}, "String should match pattern"),
        ({"name": "repo", "type": "select"}, "Select variables require at least one option"),
        ({"name": "repo", "options": ["a"]}, "Only select variables can define options"),
        ({"name": "repo", "type": "select", "options": ["a"], "defaultValue": "b"}, "must match one of the allowed"),
        ({"name": "repo", "type": "date", "defaultValue": "2023-02-29"}, "valid YYYY-MM-DD calendar dates"),
    ],
)
def test_bad_definitions_are_refused(world: World, variable: dict[str, Any], message: str) -> None:
    body = {"title": "Deploy {{repo}}", "assigneeAgentId": world.alpha_id, "variables": [variable]}
    response = world.board.post(f"/companies/{world.company_id}/routines", body)
    # The name's pattern is in the document (400); how options and defaults fit the type is not (422).
    assert response.status_code == (400 if variable["name"] == "1repo" else 422), response.text
    assert message in json.dumps(response.json())


def test_a_default_that_does_not_coerce_is_a_422(world: World) -> None:
    body = {
        "title": "{{n}}",
        "assigneeAgentId": world.alpha_id,
        "variables": [{"name": "n", "type": "number", "defaultValue": "abc"}],
    }
    response = world.board.post(f"/companies/{world.company_id}/routines", body)
    assert (response.status_code, response.json()) == (422, {"error": 'Variable "n" must be a number'})


def test_a_manual_run_fills_the_issue_and_stores_the_merged_payload(world: World) -> None:
    routine = world.routine(
        title="Deploy {{repo}}",
        description="{{count}} times, dry {{dry}}",
        variables=[
            REPO,
            {"name": "count", "type": "number"},
            {"name": "dry", "type": "boolean", "defaultValue": False},
        ],
    )

    fired = run(world, routine, {"variables": {"repo": "web", "count": "3"}, "payload": {"note": 1}})

    assert fired["triggerPayload"] == {"note": 1, "variables": {"repo": "web", "count": 3, "dry": False}}
    assert len(fired["dispatchFingerprint"]) == 64
    issue = issue_of(world, fired)
    assert (issue["title"], issue["description"]) == ("Deploy web", "3 times, dry false")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "Missing routine variables: repo, count"),
        ({"repo": "www", "count": 1}, 'Variable "repo" must match one of: web, api'),
        ({"repo": "web", "count": "x"}, 'Variable "count" must be a number'),
    ],
)
def test_a_manual_run_with_bad_values_is_a_422_and_writes_nothing(
    world: World, variables: dict[str, Any], message: str
) -> None:
    routine = world.routine(title="Deploy {{repo}} {{count}}", variables=[REPO, {"name": "count", "type": "number"}])
    response = world.board.post(f"/routines/{routine['id']}/run", {"variables": variables})
    assert (response.status_code, response.json()) == (422, {"error": message})
    assert world.board.get(f"/routines/{routine['id']}/runs").json() == []


def test_a_webhook_fills_variables_from_its_top_level_keys_and_payload_variables(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}} to {{env}}", variables=[REPO, {"name": "env"}])
    created = world.trigger(routine["id"], kind="webhook", signingMode="none")
    url = created["secretMaterial"]["webhookUrl"]

    response = world.board.post(url.removeprefix(world.board.base), {"repo": "web", "variables": {"env": "prod"}})

    fired = json_of(response, 202)
    assert fired["triggerPayload"] == {"repo": "web", "variables": {"env": "prod", "repo": "web"}}
    assert issue_of(world, fired)["title"] == "Deploy web to prod"


def test_a_schedule_needs_defaults_for_required_variables(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}} {{env}}", variables=[REPO, {"name": "env", "defaultValue": "x"}])
    response = world.board.post(
        f"/routines/{routine['id']}/triggers", {"kind": "schedule", "cronExpression": "0 9 * * *"}
    )
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Scheduled routines require defaults for required variables: repo"},
    )
    scheduled = world.routine(title="Deploy", variables=[])
    world.trigger(scheduled["id"], kind="schedule", cronExpression="0 9 * * *")
    changed = world.board.patch(f"/routines/{scheduled['id']}", {"title": "Deploy {{repo}}", "variables": [REPO]})
    assert changed.status_code == 422, changed.text


def test_coalescing_compares_what_each_firing_would_create_under_concurrent_firings(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}}", variables=[REPO], concurrencyPolicy="coalesce_if_active")
    path = f"/routines/{routine['id']}/run"

    answers = all_at_once(world, 16, lambda s, i: post(s, world, path, {"variables": {"repo": ["web", "api"][i % 2]}}))

    assert [a.status_code for a in answers] == [202] * 16, [a.text for a in answers if a.status_code != 202]
    fired = [a.json() for a in answers]
    assert Counter(f["status"] for f in fired) == {"issue_created": 2, "coalesced": 14}
    by_repo: dict[str, set[str]] = {}
    for f in fired:
        by_repo.setdefault(f["triggerPayload"]["variables"]["repo"], set()).add(f["linkedIssueId"])
    assert [len(ids) for ids in by_repo.values()] == [1, 1]
    titles = {issue_of(world, {"linkedIssueId": next(iter(ids))})["title"] for ids in by_repo.values()}
    assert titles == {"Deploy web", "Deploy api"}


def test_closing_a_templated_issue_lets_the_same_content_create_a_new_one(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}}", variables=[REPO], concurrencyPolicy="skip_if_active")
    first = run(world, routine, {"variables": {"repo": "web"}})
    assert run(world, routine, {"variables": {"repo": "web"}})["status"] == "skipped"

    json_of(world.board.patch(f"/issues/{first['linkedIssueId']}", {"status": "done"}))

    assert run(world, routine, {"variables": {"repo": "web"}})["status"] == "issue_created"


def test_a_run_may_override_the_assignee_and_project_which_makes_separate_work(world: World) -> None:
    routine = world.routine(title="Digest", concurrencyPolicy="coalesce_if_active")
    plain = run(world, routine, {})
    other = run(world, routine, {"assigneeAgentId": world.bravo_id})

    assert other["status"] == "issue_created"
    assert issue_of(world, other)["assigneeAgentId"] == world.bravo_id
    assert run(world, routine, {})["linkedIssueId"] == plain["linkedIssueId"]
    missing = world.board.post(f"/routines/{routine['id']}/run", {"projectId": "00000000-0000-4000-8000-000000000000"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Project not found"})


def test_paperclip_fields_are_stored_and_returned(world: World) -> None:
    folder = "00000000-0000-4000-8000-000000000001"
    routine = world.routine(
        env={"REGION": "eu", "MODE": {"type": "plain", "value": "fast"}},
        folderId=folder,
        activityGatePolicy="require_external_activity",
        activityGateScope="project",
    )
    detail = json_of(world.board.get(f"/routines/{routine['id']}"))
    assert detail["env"] == {"REGION": {"type": "plain", "value": "eu"}, "MODE": {"type": "plain", "value": "fast"}}
    assert (detail["folderId"], detail["activityGatePolicy"], detail["activityGateScope"]) == (
        folder,
        "require_external_activity",
        "project",
    )
    assert world.routine()["activityGatePolicy"] == "always"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"1BAD": "x"}, "Invalid environment variable name: 1BAD"),
        ({"KEY": "***REDACTED***"}, "Refusing to persist redacted placeholder for key: KEY"),
        ({"KEY": {"type": "secret_ref", "secretId": "00000000-0000-4000-8000-000000000002"}}, "Secret references"),
    ],
)
def test_env_bindings_this_server_cannot_keep_are_a_422(world: World, env: dict[str, Any], message: str) -> None:
    body = {"title": "T", "assigneeAgentId": world.alpha_id, "env": env}
    response = world.board.post(f"/companies/{world.company_id}/routines", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(message)


def test_keys_no_paperclip_schema_knows_are_still_a_400(world: World) -> None:
    body = {"title": "T", "assigneeAgentId": world.alpha_id, "varaibles": []}
    assert world.board.post(f"/companies/{world.company_id}/routines", body).status_code == 400
