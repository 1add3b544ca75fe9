"""A webhook's `public#` item holds a copy of its trigger's configuration, kept in step by every change path,
so a delivery is verified from that one item: created, changed, rotated, disabled, restored, deleted."""

from typing import Any

import requests

from chalicelib.store import routines
from chalicelib.store.tables import ClaimItem, read
from tests.support import SESSION, World, json_of

_BOOKKEEPING = ("last_fired_at", "last_result")


def _copy(public_id: str) -> dict[str, Any] | None:
    """The trigger as its public id finds it, without the dispatch bookkeeping (which the copy never holds)."""
    item = read(ClaimItem, routines.public_key(public_id))
    found = routines.webhook_trigger(item) if item else None
    return None if found is None else {k: v for k, v in vars(found).items() if k not in _BOOKKEEPING}


def _stored(trigger_id: str) -> dict[str, Any]:
    found = routines.get_trigger(trigger_id)
    assert found is not None
    return {k: v for k, v in vars(found).items() if k not in _BOOKKEEPING}


def _bearer(url: str, secret: str) -> requests.Response:
    return SESSION.post(url, json={}, headers={"Authorization": f"Bearer {secret}"}, timeout=30)


def _webhook(world: World) -> tuple[str, dict[str, Any], dict[str, str]]:
    routine_id = world.routine(concurrencyPolicy="always_enqueue")["id"]
    created = world.trigger(routine_id, kind="webhook", label="ci")
    return routine_id, created["trigger"], created["secretMaterial"]


def test_a_new_webhook_s_public_id_item_holds_its_trigger(world: World) -> None:
    _, trigger, _ = _webhook(world)
    assert _copy(trigger["publicId"]) == _stored(trigger["id"])


def test_a_change_of_the_trigger_is_a_change_of_the_copy(world: World) -> None:
    _, trigger, material = _webhook(world)
    changes = {"label": "renamed", "signingMode": "hmac_sha256", "replayWindowSec": 600}
    json_of(world.board.patch(f"/routine-triggers/{trigger['id']}", changes))
    copy = _copy(trigger["publicId"])
    assert copy == _stored(trigger["id"])
    assert copy and (copy["label"], copy["webhook"].signing_mode, copy["webhook"].replay_window_sec) == (
        "renamed",
        "hmac_sha256",
        600,
    )
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 401  # now it must sign


def test_disabling_and_enabling_reach_the_copy_and_the_deliveries(world: World) -> None:
    _, trigger, material = _webhook(world)
    json_of(world.board.patch(f"/routine-triggers/{trigger['id']}", {"enabled": False}))
    assert _copy(trigger["publicId"]) == _stored(trigger["id"])
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 409
    json_of(world.board.patch(f"/routine-triggers/{trigger['id']}", {"enabled": True}))
    assert _copy(trigger["publicId"]) == _stored(trigger["id"])
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 202


def test_rotating_the_secret_rotates_the_copy(world: World) -> None:
    _, trigger, material = _webhook(world)
    rotated = json_of(world.board.post(f"/routine-triggers/{trigger['id']}/rotate-secret", {}))["secretMaterial"]
    copy = _copy(trigger["publicId"])
    assert copy == _stored(trigger["id"])
    assert copy and copy["webhook"].secret == rotated["webhookSecret"] != material["webhookSecret"]
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 401
    assert _bearer(rotated["webhookUrl"], rotated["webhookSecret"]).status_code == 202


def test_restoring_a_revision_restores_the_copy(world: World) -> None:
    routine_id, trigger, _ = _webhook(world)
    target = json_of(world.board.get(f"/routines/{routine_id}/revisions"))[0]["id"]
    json_of(world.board.patch(f"/routine-triggers/{trigger['id']}", {"label": "renamed", "enabled": False}))
    json_of(world.board.post(f"/routines/{routine_id}/revisions/{target}/restore", {}))
    copy = _copy(trigger["publicId"])
    assert copy == _stored(trigger["id"])
    assert copy and (copy["label"], copy["enabled"]) == ("ci", True)


def test_deleting_the_trigger_deletes_the_copy(world: World) -> None:
    _, trigger, material = _webhook(world)
    assert world.board.delete(f"/routine-triggers/{trigger['id']}").status_code == 204
    assert read(ClaimItem, routines.public_key(trigger["publicId"])) is None
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 404


def test_a_public_id_item_written_before_copies_finds_its_trigger_by_a_read(world: World) -> None:
    _, trigger, material = _webhook(world)
    legacy = read(ClaimItem, routines.public_key(trigger["publicId"]))
    assert legacy is not None
    legacy.update([ClaimItem.trigger.remove()])
    assert _copy(trigger["publicId"]) == _stored(trigger["id"])
    assert _bearer(material["webhookUrl"], material["webhookSecret"]).status_code == 202
