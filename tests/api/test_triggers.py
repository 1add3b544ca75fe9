"""Triggers over HTTP: schedule (cron), webhook (URL and secret) and api; their secrets stay secret."""

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from cronsim import CronSim

from chalicelib.domain.timefmt import to_iso
from chalicelib.store.tables import TriggerItem
from tests.support import SESSION, World


def _create(world: World, routine_id: str, **fields: Any) -> requests.Response:
    return world.board.post(f"/routines/{routine_id}/triggers", fields)


def _patch(world: World, trigger_id: str, **fields: Any) -> requests.Response:
    return world.board.patch(f"/routine-triggers/{trigger_id}", fields)


def _triggers(world: World, routine_id: str) -> list[dict[str, Any]]:
    response = world.board.get(f"/routines/{routine_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["triggers"])


def _next_fires(expression: str, timezone: str, before: datetime, after: datetime) -> set[str]:
    """The first fire after each end of a request: `nextRunAt` computed "from now" is one of them."""
    return {to_iso(next(CronSim(expression, moment.astimezone(ZoneInfo(timezone))))) for moment in (before, after)}


def _deliver(url: str, secret: str) -> requests.Response:
    return SESSION.post(url, json={}, headers={"Authorization": f"Bearer {secret}"}, timeout=30)


# Schedule triggers


@pytest.mark.parametrize(
    ("expression", "timezone"),
    [("0 9 * * 1", "Europe/Amsterdam"), ("*/15 * * * *", "UTC"), ("0 0 * * *", "America/New_York")],
)
def test_a_schedule_trigger_gets_its_next_run_from_now(world: World, expression: str, timezone: str) -> None:
    routine = world.routine()
    before = datetime.now(UTC)
    response = _create(world, routine["id"], kind="schedule", cronExpression=expression, timezone=timezone)
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secretMaterial"] is None
    trigger = body["trigger"]
    assert (trigger["kind"], trigger["cronExpression"], trigger["timezone"], trigger["enabled"]) == (
        "schedule",
        expression,
        timezone,
        True,
    )
    assert trigger["nextRunAt"] in _next_fires(expression, timezone, before, after)
    assert _triggers(world, routine["id"])[0]["nextRunAt"] == trigger["nextRunAt"]


def test_a_schedule_trigger_defaults_to_utc_and_trims_its_fields(world: World) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="schedule", cronExpression="  0 9 * * *  ")
    assert response.status_code == 201, response.text
    trigger = response.json()["trigger"]
    assert (trigger["cronExpression"], trigger["timezone"]) == ("0 9 * * *", "UTC")
    assert trigger["nextRunAt"].endswith("T09:00:00.000Z")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 9 * *", "exactly 5 fields, got 4"),
        ("0 9 * * * *", "exactly 5 fields, got 6"),
        ("61 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day-of-week"),
        ("*/0 * * * *", "minute"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4 *", "never fires"),
        ("@daily", "not supported"),
    ],
)
def test_a_bad_cron_expression_is_422_naming_the_problem(world: World, expression: str, problem: str) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="schedule", cronExpression=expression)
    assert response.status_code == 422, response.text
    assert problem in response.json()["error"]
    assert _triggers(world, routine["id"]) == []


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "Europe", "../etc/passwd", "utc", "Etc/GMT+14"])
def test_a_bad_timezone_is_422(world: World, timezone: str) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="schedule", cronExpression="0 9 * * *", timezone=timezone)
    assert response.status_code == 422
    assert response.json() == {"error": f"Invalid timezone: {timezone}"}
    assert _triggers(world, routine["id"]) == []


def test_changing_the_cron_recomputes_the_next_run(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="schedule", cronExpression="0 9 * * *")["trigger"]
    before = datetime.now(UTC)
    response = _patch(world, trigger["id"], cronExpression="30 17 * * *", timezone="Asia/Tokyo")
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["cronExpression"], changed["timezone"]) == ("30 17 * * *", "Asia/Tokyo")
    assert changed["nextRunAt"] in _next_fires("30 17 * * *", "Asia/Tokyo", before, after)
    assert _triggers(world, routine["id"])[0]["nextRunAt"] == changed["nextRunAt"]


def test_disabling_clears_the_next_run_and_re_enabling_computes_it_from_now(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="schedule", cronExpression="* * * * *")["trigger"]
    assert TriggerItem.get(trigger["id"], consistent_read=True).dueShard is not None
    disabled = _patch(world, trigger["id"], enabled=False)
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["nextRunAt"]) == (False, None)
    assert _triggers(world, routine["id"])[0]["nextRunAt"] is None
    assert TriggerItem.get(trigger["id"], consistent_read=True).dueShard is None
    before = datetime.now(UTC)
    enabled = _patch(world, trigger["id"], enabled=True)
    after = datetime.now(UTC)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True
    assert enabled.json()["nextRunAt"] in _next_fires("* * * * *", "UTC", before, after)
    assert TriggerItem.get(trigger["id"], consistent_read=True).dueShard is not None


def _due_shard(trigger_id: str) -> str | None:
    return TriggerItem.get(trigger_id, consistent_read=True).dueShard


def test_only_schedules_of_active_routines_are_in_the_due_index(world: World) -> None:
    active, paused = world.routine(), world.routine(status="paused")
    on = world.trigger(active["id"], kind="schedule", cronExpression="0 9 * * *")["trigger"]
    off = world.trigger(paused["id"], kind="schedule", cronExpression="0 9 * * *")["trigger"]
    hook = world.trigger(active["id"], kind="webhook")["trigger"]
    assert _due_shard(on["id"]) is not None
    assert (_due_shard(off["id"]), _due_shard(hook["id"])) == (None, None)
    assert off["nextRunAt"] is not None


def test_pausing_leaves_the_due_index_and_activating_reschedules_from_now(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="schedule", cronExpression="*/5 * * * *")["trigger"]
    assert world.board.patch(f"/routines/{routine['id']}", {"status": "paused"}).status_code == 200
    assert _due_shard(trigger["id"]) is None
    stale = TriggerItem(trigger["id"])
    stale.update([TriggerItem.nextRunAt.set("2020-01-01T00:00:00.000Z")])
    before = datetime.now(UTC)
    assert world.board.patch(f"/routines/{routine['id']}", {"status": "active"}).status_code == 200
    after = datetime.now(UTC)
    assert _due_shard(trigger["id"]) is not None
    assert _triggers(world, routine["id"])[0]["nextRunAt"] in _next_fires("*/5 * * * *", "UTC", before, after)
    assert world.board.patch(f"/routines/{routine['id']}", {"status": "archived"}).status_code == 200
    assert _due_shard(trigger["id"]) is None


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"cronExpression": "0 0 30 2 *"}, 422, "never fires"),
        ({"cronExpression": "0 9 * *"}, 422, "exactly 5 fields"),
        ({"timezone": "Nowhere/City"}, 422, "Invalid timezone: Nowhere/City"),
        ({"cronExpression": None}, 422, "Scheduled triggers require cronExpression"),
        ({"timezone": None}, 422, "Scheduled triggers require timezone"),
        ({"signingMode": "hmac_sha256"}, 422, "Only webhook triggers"),
        ({"enabled": None}, 400, "Validation error"),
        ({"enabled": "yes"}, 400, "Validation error"),
        ({"kind": "webhook"}, 400, "Validation error"),
        ({"label": "x" * 121}, 400, "Validation error"),
    ],
)
def test_a_bad_schedule_change_is_refused_and_changes_nothing(
    world: World, change: dict[str, Any], status: int, message: str
) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="schedule", cronExpression="0 9 * * *", label="nine")["trigger"]
    response = _patch(world, trigger["id"], **change)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert _triggers(world, routine["id"]) == [trigger]


# Webhook triggers


def test_a_webhook_trigger_has_a_public_id_a_secret_and_defaults(world: World) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="webhook")
    assert response.status_code == 201, response.text
    trigger, material = response.json()["trigger"], response.json()["secretMaterial"]
    assert re.fullmatch(r"[0-9a-f]{24}", trigger["publicId"])
    assert (trigger["signingMode"], trigger["replayWindowSec"], trigger["nextRunAt"]) == ("bearer", 300, None)
    assert set(material) == {"webhookUrl", "webhookSecret"}
    assert re.fullmatch(r"[0-9a-f]{48}", material["webhookSecret"])
    assert material["webhookUrl"].endswith(f"/api/routine-triggers/public/{trigger['publicId']}/fire")
    assert "webhookSecret" not in trigger and "secret" not in trigger
    assert _deliver(material["webhookUrl"], material["webhookSecret"]).status_code == 202


def test_every_webhook_trigger_gets_its_own_public_id_and_secret(world: World) -> None:
    routine = world.routine()
    created = [_create(world, routine["id"], kind="webhook").json() for _ in range(3)]
    assert len({c["trigger"]["publicId"] for c in created}) == 3
    assert len({c["secretMaterial"]["webhookSecret"] for c in created}) == 3


@pytest.mark.parametrize("window", [30, 86_400, 300.0])
def test_a_replay_window_of_30_to_86400_seconds_is_accepted(world: World, window: int) -> None:
    # JSON has one number type: 300.0 is the whole number 300.
    routine = world.routine()
    response = _create(world, routine["id"], kind="webhook", signingMode="hmac_sha256", replayWindowSec=window)
    assert response.status_code == 201, response.text
    trigger = response.json()["trigger"]
    assert (trigger["signingMode"], trigger["replayWindowSec"]) == ("hmac_sha256", window)
    assert isinstance(trigger["replayWindowSec"], int)


@pytest.mark.parametrize("window", [29, 86_401, 300.5, "300", True, None, 0, -300])
def test_a_replay_window_outside_30_to_86400_or_not_an_integer_is_400(world: World, window: Any) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="webhook", replayWindowSec=window)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    assert _triggers(world, routine["id"]) == []
    hook = world.trigger(routine["id"], kind="webhook")["trigger"]
    if window is not None:
        assert _patch(world, hook["id"], replayWindowSec=window).status_code == 400
    assert _triggers(world, routine["id"])[0]["replayWindowSec"] == 300


def test_a_webhook_trigger_can_change_its_signing_mode_and_window(world: World) -> None:
    routine = world.routine()
    hook = world.trigger(routine["id"], kind="webhook")["trigger"]
    response = _patch(world, hook["id"], signingMode="hmac_sha256", replayWindowSec=600)
    assert response.status_code == 200, response.text
    stored = _triggers(world, routine["id"])[0]
    assert (stored["signingMode"], stored["replayWindowSec"], stored["publicId"]) == (
        "hmac_sha256",
        600,
        hook["publicId"],
    )


def test_an_unknown_signing_mode_is_400(world: World) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="webhook", signingMode="gitlab_token")
    assert response.status_code == 400
    assert _triggers(world, routine["id"]) == []


def test_rotating_a_secret_invalidates_the_old_one_at_once(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    created = world.trigger(routine["id"], kind="webhook")
    url, old_secret = created["secretMaterial"]["webhookUrl"], created["secretMaterial"]["webhookSecret"]
    assert _deliver(url, old_secret).status_code == 202
    response = world.board.post(f"/routine-triggers/{created['trigger']['id']}/rotate-secret", {})
    assert response.status_code == 200, response.text
    trigger, material = response.json()["trigger"], response.json()["secretMaterial"]
    assert trigger["publicId"] == created["trigger"]["publicId"]
    assert material["webhookUrl"] == url
    assert re.fullmatch(r"[0-9a-f]{48}", material["webhookSecret"])
    assert material["webhookSecret"] != old_secret
    rejected = _deliver(url, old_secret)
    assert rejected.status_code == 401
    assert rejected.json() == {"error": "Unauthorized"}
    assert _deliver(url, material["webhookSecret"]).status_code == 202
    runs = world.board.get(f"/routines/{routine['id']}/runs").json()
    assert [run["source"] for run in runs] == ["webhook", "webhook"]


@pytest.mark.parametrize("kind", ["schedule", "api"])
def test_only_webhook_triggers_rotate_secrets(world: World, kind: str) -> None:
    routine = world.routine()
    fields = {"cronExpression": "0 9 * * *"} if kind == "schedule" else {}
    trigger = world.trigger(routine["id"], kind=kind, **fields)["trigger"]
    response = world.board.post(f"/routine-triggers/{trigger['id']}/rotate-secret", {})
    assert response.status_code == 422
    assert response.json() == {"error": "Only webhook triggers can rotate secrets"}
    assert _triggers(world, routine["id"]) == [trigger]


# Api triggers, labels, deletion


def test_an_api_trigger_has_no_schedule_and_no_secret(world: World) -> None:
    routine = world.routine()
    response = _create(world, routine["id"], kind="api", label="  manual  ", enabled=False)
    assert response.status_code == 201, response.text
    trigger = response.json()["trigger"]
    assert response.json()["secretMaterial"] is None
    assert (trigger["kind"], trigger["label"], trigger["enabled"]) == ("api", "manual", False)
    assert (trigger["cronExpression"], trigger["nextRunAt"], trigger["publicId"]) == (None, None, None)


@pytest.mark.parametrize("kind", ["schedule", "webhook", "api"])
def test_a_label_of_up_to_120_characters_is_accepted_and_121_is_400(world: World, kind: str) -> None:
    routine = world.routine()
    extra = {"cronExpression": "0 9 * * *"} if kind == "schedule" else {}
    accepted = _create(world, routine["id"], kind=kind, label="x" * 120, **extra)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["trigger"]["label"] == "x" * 120
    refused = _create(world, routine["id"], kind=kind, label="x" * 121, **extra)
    assert refused.status_code == 400
    assert len(_triggers(world, routine["id"])) == 1


def test_a_label_can_be_changed_and_cleared(world: World) -> None:
    routine = world.routine()
    trigger = world.trigger(routine["id"], kind="api", label="first")["trigger"]
    assert _patch(world, trigger["id"], label="second").json()["label"] == "second"
    assert _patch(world, trigger["id"], label=None).json()["label"] is None
    assert _triggers(world, routine["id"])[0]["label"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": "cron"},
        {"kind": "schedule"},
        {"kind": "schedule", "cronExpression": 5},
        {"kind": "schedule", "cronExpression": "   "},
        {"kind": "schedule", "cronExpression": "0 9 * * *", "timezone": None},
        {"kind": "api", "cronExpression": "0 9 * * *"},
        {"kind": "webhook", "secret": "mine"},
        {"kind": "api", "enabled": "yes"},
        {"kind": "api", "enabled": 1},
        {"kind": "api", "label": 7},
    ],
)
def test_a_malformed_trigger_is_400(world: World, body: dict[str, Any]) -> None:
    routine = world.routine()
    response = world.board.post(f"/routines/{routine['id']}/triggers", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Validation error"
    assert isinstance(response.json()["details"], list)
    assert _triggers(world, routine["id"]) == []


def test_a_deleted_trigger_is_gone(world: World) -> None:
    routine = world.routine()
    created = world.trigger(routine["id"], kind="webhook")
    trigger_id = created["trigger"]["id"]
    keep = world.trigger(routine["id"], kind="api")["trigger"]
    response = world.board.delete(f"/routine-triggers/{trigger_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert _triggers(world, routine["id"]) == [keep]
    assert world.board.delete(f"/routine-triggers/{trigger_id}").status_code == 404
    assert _patch(world, trigger_id, label="x").status_code == 404
    assert world.board.post(f"/routine-triggers/{trigger_id}/rotate-secret", {}).status_code == 404
    material = created["secretMaterial"]
    assert _deliver(material["webhookUrl"], material["webhookSecret"]).status_code == 404


def test_a_routine_id_is_not_a_trigger_id(world: World) -> None:
    routine = world.routine()
    assert _patch(world, routine["id"], label="x").status_code == 404


# Secrets never leave except at creation and rotation


def test_a_webhook_secret_never_appears_in_reads(world: World) -> None:
    routine = world.routine()
    created = world.trigger(routine["id"], kind="webhook", signingMode="bearer")
    first = created["secretMaterial"]["webhookSecret"]
    rotated = world.board.post(f"/routine-triggers/{created['trigger']['id']}/rotate-secret", {}).json()
    second = rotated["secretMaterial"]["webhookSecret"]
    assert _deliver(created["secretMaterial"]["webhookUrl"], second).status_code == 202
    patched = _patch(world, created["trigger"]["id"], label="renamed")
    reads = [
        patched,
        world.board.get(f"/routines/{routine['id']}"),
        world.alpha.get(f"/routines/{routine['id']}"),
        world.bravo.get(f"/companies/{world.company_id}/routines"),
        world.board.get(f"/companies/{world.company_id}/routines"),
        world.board.get(f"/routines/{routine['id']}/runs"),
        world.board.get(f"/companies/{world.company_id}/issues"),
    ]
    for response in reads:
        assert response.status_code == 200, response.text
        assert first not in response.text
        assert second not in response.text
    detail_trigger = reads[1].json()["triggers"][0]
    assert detail_trigger["webhookUrl"] == created["secretMaterial"]["webhookUrl"]
