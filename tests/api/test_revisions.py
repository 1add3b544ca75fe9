"""Revisions over HTTP: one per configuration change, listed newest first, restored with their triggers,
and `baseRevisionId` refusing a PATCH made from an older revision."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support import SESSION, World, json_of

UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"


def _revisions(world: World, routine_id: str) -> list[dict[str, Any]]:
    return list(json_of(world.board.get(f"/routines/{routine_id}/revisions")))


def _latest(world: World, routine_id: str) -> dict[str, Any]:
    return _revisions(world, routine_id)[0]


def _restore(world: World, routine_id: str, revision_id: str) -> requests.Response:
    return world.board.post(f"/routines/{routine_id}/revisions/{revision_id}/restore", {})


def _patch(world: World, routine_id: str, **fields: Any) -> requests.Response:
    return world.board.patch(f"/routines/{routine_id}", fields)


def _get(world: World, routine_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/routines/{routine_id}")))


def _deliver(material: dict[str, str]) -> requests.Response:
    headers = {"Authorization": f"Bearer {material['webhookSecret']}"}
    return SESSION.post(material["webhookUrl"], json={}, headers=headers, timeout=30)


# The seven events


def test_creating_a_routine_records_revision_one_and_points_the_routine_at_it(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}}")
    (revision,) = _revisions(world, routine["id"])
    assert revision["revisionNumber"] == 1
    assert revision["changeSummary"] == "Created routine"
    assert (routine["latestRevisionId"], routine["latestRevisionNumber"]) == (revision["id"], 1)
    assert revision["title"] == "Deploy {{repo}}"
    assert revision["snapshot"]["version"] == 1
    recorded = revision["snapshot"]["routine"]
    assert recorded["title"] == "Deploy {{repo}}"
    assert recorded["variables"][0]["name"] == "repo"
    assert "folderId" not in recorded
    assert len(recorded) == 17
    assert revision["snapshot"]["triggers"] == []


def test_each_configuration_change_appends_a_revision_with_its_summary(world: World) -> None:
    routine_id = world.routine()["id"]
    assert _patch(world, routine_id, title="Nightly digest").status_code == 200
    schedule = world.trigger(routine_id, kind="schedule", cronExpression="0 9 * * *", timezone="UTC")["trigger"]
    webhook = world.trigger(routine_id, kind="webhook")["trigger"]
    assert world.board.patch(f"/routine-triggers/{schedule['id']}", {}).status_code == 200
    assert world.board.post(f"/routine-triggers/{webhook['id']}/rotate-secret", {}).status_code == 200
    assert world.board.delete(f"/routine-triggers/{schedule['id']}").status_code == 204
    summaries = [(r["revisionNumber"], r["changeSummary"]) for r in _revisions(world, routine_id)]
    assert summaries == [
        (7, "Deleted schedule trigger"),
        (6, "Rotated webhook trigger secret"),
        (5, "Updated schedule trigger"),
        (4, "Created webhook trigger"),
        (3, "Created schedule trigger"),
        (2, "Updated routine"),
        (1, "Created routine"),
    ]
    latest = _get(world, routine_id)
    assert latest["latestRevisionNumber"] == 7
    assert latest["latestRevisionId"] == _latest(world, routine_id)["id"]


def test_a_trigger_revision_records_every_trigger_without_secrets(world: World) -> None:
    routine_id = world.routine()["id"]
    schedule = world.trigger(routine_id, kind="schedule", cronExpression="0 9 * * *", timezone="UTC")["trigger"]
    webhook = world.trigger(routine_id, kind="webhook", label="ci", signingMode="hmac_sha256")["trigger"]
    recorded = _latest(world, routine_id)["snapshot"]["triggers"]
    assert [t["id"] for t in recorded] == [schedule["id"], webhook["id"]]
    assert recorded[1] == {
        "id": webhook["id"],
        "kind": "webhook",
        "label": "ci",
        "enabled": True,
        "cronExpression": None,
        "timezone": None,
        "publicId": webhook["publicId"],
        "signingMode": "hmac_sha256",
        "replayWindowSec": 300,
    }
    assert recorded[0]["cronExpression"] == "0 9 * * *"


def test_a_patch_that_changes_nothing_recorded_appends_no_revision(world: World) -> None:
    routine = world.routine()
    assert _patch(world, routine["id"], title=routine["title"]).status_code == 200
    folder = "01900000-0000-7000-8000-0000000000f0"
    assert _patch(world, routine["id"], folderId=folder).status_code == 200
    assert [r["revisionNumber"] for r in _revisions(world, routine["id"])] == [1]


def test_runs_record_the_revision_they_fired_from(world: World) -> None:
    routine_id = world.routine()["id"]
    first = json_of(world.board.post(f"/routines/{routine_id}/run", {}), 202)
    assert _patch(world, routine_id, priority="high").status_code == 200
    second = json_of(world.board.post(f"/routines/{routine_id}/run", {}), 202)
    numbered = {r["revisionNumber"]: r["id"] for r in _revisions(world, routine_id)}
    assert (first["routineRevisionId"], second["routineRevisionId"]) == (numbered[1], numbered[2])
    listed = json_of(world.board.get(f"/routines/{routine_id}/runs"))
    assert [run["routineRevisionId"] for run in listed] == [numbered[2], numbered[1]]


# Listing


def test_revisions_are_the_routine_managers_to_read(world: World) -> None:
    routine_id = world.routine()["id"]
    assert world.bravo.get(f"/routines/{routine_id}/revisions").status_code == 403
    assert world.alpha.get(f"/routines/{routine_id}/revisions").status_code == 200
    assert world.anonymous.get(f"/routines/{routine_id}/revisions").status_code == 401
    missing = world.board.get(f"/routines/{UNKNOWN_ID}/revisions")
    assert (missing.status_code, missing.json()) == (404, {"error": "Routine not found"})


# Restoring


def test_restore_brings_back_the_fields_and_status_as_a_new_revision(world: World) -> None:
    routine = world.routine(title="Deploy {{repo}}", priority="low")
    first = _latest(world, routine["id"])["id"]
    changed = {"title": "Ship it", "priority": "critical", "status": "paused", "concurrencyPolicy": "always_enqueue"}
    assert _patch(world, routine["id"], **changed).status_code == 200
    body = json_of(_restore(world, routine["id"], first))
    restored = body["routine"]
    assert (restored["title"], restored["priority"], restored["status"]) == ("Deploy {{repo}}", "low", "active")
    assert restored["concurrencyPolicy"] == "coalesce_if_active"
    assert [v["name"] for v in restored["variables"]] == ["repo"]
    assert body["revision"]["changeSummary"] == "Restored from revision 1"
    assert body["revision"]["revisionNumber"] == 3
    assert body["revision"]["restoredFromRevisionId"] == first
    assert (body["restoredFromRevisionId"], body["restoredFromRevisionNumber"]) == (first, 1)
    assert body["secretMaterials"] == []
    assert _get(world, routine["id"])["title"] == "Deploy {{repo}}"
    assert _get(world, routine["id"])["latestRevisionId"] == body["revision"]["id"]


def test_restore_keeps_the_folder(world: World) -> None:
    routine_id = world.routine()["id"]
    first = _latest(world, routine_id)["id"]
    folder = "01900000-0000-7000-8000-0000000000f0"
    assert _patch(world, routine_id, folderId=folder, title="Other").status_code == 200
    assert json_of(_restore(world, routine_id, first))["routine"]["folderId"] == folder


def test_restore_recreates_a_deleted_webhook_with_its_id_and_a_new_url_and_secret(world: World) -> None:
    routine_id = world.routine()["id"]
    created = world.trigger(routine_id, kind="webhook", label="ci")
    webhook, material = created["trigger"], created["secretMaterial"]
    with_webhook = _latest(world, routine_id)["id"]
    assert world.board.delete(f"/routine-triggers/{webhook['id']}").status_code == 204
    body = json_of(_restore(world, routine_id, with_webhook))
    (secret,) = body["secretMaterials"]
    assert secret["triggerId"] == webhook["id"]
    assert secret["webhookUrl"] != material["webhookUrl"]
    assert secret["webhookSecret"] != material["webhookSecret"]
    (trigger,) = _get(world, routine_id)["triggers"]
    assert (trigger["id"], trigger["label"], trigger["webhookUrl"]) == (webhook["id"], "ci", secret["webhookUrl"])
    assert _deliver(material).status_code == 404
    fired = json_of(_deliver(secret), 202)
    assert fired["triggerId"] == webhook["id"]
    assert fired["status"] == "issue_created"


def test_restore_deletes_newer_triggers_and_overwrites_kept_ones_keeping_their_secret(world: World) -> None:
    routine_id = world.routine()["id"]
    created = world.trigger(routine_id, kind="webhook", label="ci")
    webhook, material = created["trigger"], created["secretMaterial"]
    target = _latest(world, routine_id)["id"]
    assert world.board.patch(f"/routine-triggers/{webhook['id']}", {"label": "renamed"}).status_code == 200
    newer = world.trigger(routine_id, kind="schedule", cronExpression="0 9 * * *", timezone="UTC")["trigger"]
    body = json_of(_restore(world, routine_id, target))
    assert body["secretMaterials"] == []
    (trigger,) = _get(world, routine_id)["triggers"]
    assert (trigger["id"], trigger["label"], trigger["publicId"]) == (webhook["id"], "ci", webhook["publicId"])
    assert world.board.patch(f"/routine-triggers/{newer['id']}", {}).status_code == 404
    assert json_of(_deliver(material), 202)["triggerId"] == webhook["id"]
    assert [t["id"] for t in _latest(world, routine_id)["snapshot"]["triggers"]] == [webhook["id"]]


def test_restore_recreates_a_schedule_with_its_next_run_from_now(world: World) -> None:
    routine_id = world.routine()["id"]
    schedule = world.trigger(routine_id, kind="schedule", cronExpression="*/5 * * * *", timezone="UTC")["trigger"]
    target = _latest(world, routine_id)["id"]
    assert world.board.delete(f"/routine-triggers/{schedule['id']}").status_code == 204
    json_of(_restore(world, routine_id, target))
    (trigger,) = _get(world, routine_id)["triggers"]
    assert (trigger["id"], trigger["cronExpression"]) == (schedule["id"], "*/5 * * * *")
    assert trigger["nextRunAt"] is not None


def test_restoring_the_latest_revision_is_a_conflict_naming_it(world: World) -> None:
    routine = world.routine()
    response = _restore(world, routine["id"], routine["latestRevisionId"])
    assert response.status_code == 409
    assert response.json() == {
        "error": "Selected revision is already the latest revision",
        "details": {"currentRevisionId": routine["latestRevisionId"]},
    }


def test_a_revision_of_another_routine_is_not_found(world: World) -> None:
    mine, other = world.routine(), world.routine(title="Other")
    for revision_id in (other["latestRevisionId"], UNKNOWN_ID, "not-an-id"):
        response = _restore(world, mine["id"], revision_id)
        assert (response.status_code, response.json()) == (404, {"error": "Routine revision not found"})


def test_an_agent_restores_only_revisions_assigned_to_itself(world: World) -> None:
    routine_id = world.routine()["id"]
    first = _latest(world, routine_id)["id"]
    assert _patch(world, routine_id, assigneeAgentId=world.bravo_id).status_code == 200
    assert world.bravo.post(f"/routines/{routine_id}/revisions/{first}/restore", {}).status_code == 403
    response = world.bravo.post(f"/routines/{routine_id}/revisions/{first}/restore", {})
    assert response.json() == {"error": "Agents can only restore routine revisions assigned to themselves"}


# baseRevisionId


def test_a_patch_from_an_older_revision_is_refused_with_the_latest(world: World) -> None:
    routine = world.routine()
    base = routine["latestRevisionId"]
    assert _patch(world, routine["id"], title="One", baseRevisionId=base).status_code == 200
    latest = _get(world, routine["id"])["latestRevisionId"]
    response = _patch(world, routine["id"], title="Two", baseRevisionId=base)
    assert response.status_code == 409
    assert response.json() == {"error": "Routine was updated by someone else", "details": {"currentRevisionId": latest}}
    assert _get(world, routine["id"])["title"] == "One"


def test_a_trigger_change_moves_the_base_on(world: World) -> None:
    routine = world.routine()
    world.trigger(routine["id"], kind="api")
    response = _patch(world, routine["id"], title="Two", baseRevisionId=routine["latestRevisionId"])
    assert response.status_code == 409


@pytest.mark.parametrize("attempt", range(3))
def test_two_patches_from_the_same_base_racing_give_exactly_one_200(world: World, attempt: int) -> None:
    routine = world.routine()
    base = routine["latestRevisionId"]
    start = threading.Barrier(2)

    def patch(title: str) -> requests.Response:
        start.wait()
        return _patch(world, routine["id"], title=title, baseRevisionId=base)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(patch, ["Left", "Right"]))
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = next(a for a in answers if a.status_code == 200).json()
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser == {
        "error": "Routine was updated by someone else",
        "details": {"currentRevisionId": winner["latestRevisionId"]},
    }
    assert [r["revisionNumber"] for r in _revisions(world, routine["id"])] == [2, 1]


def test_concurrent_trigger_changes_each_get_their_own_revision(world: World) -> None:
    routine_id = world.routine()["id"]
    start = threading.Barrier(4)

    def create(label: str) -> str:
        start.wait()
        return str(world.trigger(routine_id, kind="api", label=label)["trigger"]["id"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        made = set(pool.map(create, ["a", "b", "c", "d"]))
    revisions = _revisions(world, routine_id)
    assert [r["revisionNumber"] for r in revisions] == [5, 4, 3, 2, 1]
    assert {t["id"] for t in revisions[0]["snapshot"]["triggers"]} == made


def test_restoring_more_triggers_than_one_transaction_holds_recreates_them_all(world: World) -> None:
    routine_id = world.routine()["id"]
    made = [world.trigger(routine_id, kind="webhook")["trigger"]["id"] for _ in range(50)]
    target = _latest(world, routine_id)
    for trigger_id in made:
        assert world.board.delete(f"/routine-triggers/{trigger_id}").status_code == 204
    body = json_of(_restore(world, routine_id, target["id"]))
    assert sorted(secret["triggerId"] for secret in body["secretMaterials"]) == sorted(made)
    assert sorted(t["id"] for t in _get(world, routine_id)["triggers"]) == sorted(made)
    assert body["revision"]["revisionNumber"] == target["revisionNumber"] + 51
