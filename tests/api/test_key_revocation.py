"""Revoking keys: by the board API and `routines admin`, and a terminated agent's keys answering 401."""

import pytest

from routines.cli import main
from tests.support import Client, World, json_of


def _new_key(world: World) -> tuple[dict[str, str], Client]:
    created = json_of(world.board.post(f"/agents/{world.bravo_id}/keys", {"label": "ci"}), 201)
    return created, Client(world.base, created["token"])


def test_a_revoked_key_answers_401_at_once_and_other_keys_keep_working(world: World) -> None:
    created, key = _new_key(world)
    assert key.get(f"/companies/{world.company_id}/routines").status_code == 200

    response = world.board.delete(f"/agents/{world.bravo_id}/keys/{created['id']}")

    assert response.status_code == 204, response.text
    for call in (key.get(f"/companies/{world.company_id}/routines"), key.get("/companies")):
        assert call.status_code == 401
        assert call.json() == {"error": "Unauthorized"}
    assert world.bravo.get(f"/companies/{world.company_id}/routines").status_code == 200


def test_a_key_id_of_another_agent_or_unknown_is_404_and_revokes_nothing(world: World) -> None:
    created, key = _new_key(world)
    for agent_id, key_id in ((world.alpha_id, created["id"]), (world.bravo_id, "0" * 24), (world.bravo_id, "x")):
        response = world.board.delete(f"/agents/{agent_id}/keys/{key_id}")
        assert response.status_code == 404, response.text
        assert response.json() == {"error": "API key not found"}
    assert key.get(f"/companies/{world.company_id}/routines").status_code == 200


def test_agents_and_other_companies_boards_cannot_revoke(world: World, other_world: World) -> None:
    created, key = _new_key(world)
    path = f"/agents/{world.bravo_id}/keys/{created['id']}"
    assert world.bravo.delete(path).status_code == 403
    assert other_world.board.delete(path).status_code == 403
    assert key.get(f"/companies/{world.company_id}/routines").status_code == 200


def test_admin_revoke_key_revokes_a_key_made_by_admin_create_key(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("ROUTINES_TABLE_PREFIX", "unused")  # the test process is configured already
    monkeypatch.setattr("routines.cli._connect", lambda data_dir: None)
    assert main(["admin", "create-key", world.bravo_id]) == 0
    created = json.loads(capsys.readouterr().out)
    key = Client(world.base, created["token"])
    assert key.get("/companies").status_code == 200

    assert main(["admin", "revoke-key", world.bravo_id, created["id"]]) == 0

    assert key.get("/companies").status_code == 401


def test_a_terminated_agents_keys_answer_401_and_a_paused_agent_keeps_read_access(world: World) -> None:
    routine = world.routine()
    json_of(world.board.patch(f"/agents/{world.bravo_id}", {"status": "paused"}))
    assert world.bravo.get(f"/routines/{routine['id']}").status_code == 200

    json_of(world.board.patch(f"/agents/{world.bravo_id}", {"status": "terminated"}))

    assert world.bravo.get(f"/routines/{routine['id']}").status_code == 401
    assert world.bravo.patch(f"/routines/{routine['id']}", {"title": "x"}).status_code == 401
    assert world.alpha.get(f"/routines/{routine['id']}").status_code == 200
