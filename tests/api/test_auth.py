"""API keys: who a key is, how it is kept, and the 401/403 answers around it."""

import base64
import hashlib

import pytest

from chalicelib import runtime
from chalicelib.domain.timefmt import to_iso
from chalicelib.services import directory
from chalicelib.services.auth import hash_key
from chalicelib.store import directory as directory_store
from chalicelib.store.tables import ApiKeyItem
from tests.support import SESSION, Client, World


def _routines_of(world: World, client: Client) -> int:
    return client.get(f"/companies/{world.company_id}/routines").status_code


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="bearer-without-key"),
        pytest.param("Bearer ", id="bearer-blank-key"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
        pytest.param("rk_agent_" + "a" * 43, id="no-scheme"),
        pytest.param("Token rk_agent_" + "a" * 43, id="other-scheme"),
        pytest.param("Bearer not-a-routines-key", id="unprefixed"),
        pytest.param("Bearer rk_agent_" + "a" * 43, id="unknown-agent-key"),
        pytest.param("Bearer rk_board_" + "a" * 43, id="unknown-board-key"),
        pytest.param("Bearer rk_agent_\u00e9\u00e9", id="non-ascii"),
    ],
)
def test_a_missing_malformed_or_unknown_key_is_401(world: World, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = SESSION.get(f"{world.base}/companies/{world.company_id}/routines", headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}


def test_the_bearer_scheme_is_case_insensitive(world: World) -> None:
    response = SESSION.get(
        f"{world.base}/companies/{world.company_id}/routines",
        headers={"Authorization": f"bearer {world.alpha.key}"},
        timeout=30,
    )
    assert response.status_code == 200


def test_a_revoked_key_is_401_at_once(world: World) -> None:
    assert world.alpha.key
    assert _routines_of(world, world.alpha) == 200
    assert directory_store.revoke_api_key(hash_key(world.alpha.key), to_iso(runtime.now()))
    response = world.alpha.get(f"/companies/{world.company_id}/routines")
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert _routines_of(world, world.bravo) == 200


def test_an_agent_key_of_another_company_is_403(world: World, other_world: World) -> None:
    response = other_world.alpha.get(f"/companies/{world.company_id}/routines")
    assert response.status_code == 403
    assert response.json() == {"error": "Agent key cannot access another company"}


def test_a_board_key_scoped_to_one_company_is_403_on_another(world: World, other_world: World) -> None:
    assert _routines_of(world, world.board) == 200
    response = world.board.get(f"/companies/{other_world.company_id}/routines")
    assert response.status_code == 403
    assert response.json() == {"error": "Board key cannot access another company"}


def test_a_board_key_for_several_companies_reaches_each_of_them(world: World, other_world: World) -> None:
    both = frozenset({world.company_id, other_world.company_id})
    client = Client(world.base, directory.create_board_key(both, "two", runtime.now()))
    assert _routines_of(world, client) == 200
    assert _routines_of(other_world, client) == 200


def test_an_all_companies_board_key_reaches_every_company(world: World, other_world: World) -> None:
    client = Client(world.base, directory.create_board_key(None, "root", runtime.now()))
    assert _routines_of(world, client) == 200
    assert _routines_of(other_world, client) == 200


def _stored_text(key_hash: str) -> str:
    item = ApiKeyItem.get(key_hash, consistent_read=True)
    return repr(item.attribute_values)


def test_an_agent_key_is_stored_only_as_its_hash(world: World) -> None:
    response = world.board.post(f"/agents/{world.bravo_id}/keys", {"label": "ci"})
    assert response.status_code == 201, response.text
    key = response.json()["token"]
    secret_part = key.removeprefix("rk_agent_")
    item = ApiKeyItem.get(hash_key(key), consistent_read=True)
    assert item.keyHash == hashlib.sha256(key.encode()).hexdigest()
    assert item.agentId == world.bravo_id
    assert item.companyId == world.company_id
    assert secret_part not in _stored_text(item.keyHash)


def test_a_board_key_is_stored_only_as_its_hash(world: World) -> None:
    key = directory.create_board_key(frozenset({world.company_id}), "ops", runtime.now())
    secret_part = key.removeprefix("rk_board_")
    assert secret_part not in _stored_text(hash_key(key))


def _random_bytes(key: str, prefix: str) -> bytes:
    assert key.startswith(prefix)
    body = key.removeprefix(prefix)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def test_keys_carry_their_kind_as_prefix_and_at_least_32_random_bytes(world: World) -> None:
    agent_keys = [world.board.post(f"/agents/{world.alpha_id}/keys", {}).json()["token"] for _ in range(3)]
    board_keys = [directory.create_board_key(None, None, runtime.now()) for _ in range(3)]
    for key in agent_keys:
        assert len(_random_bytes(key, "rk_agent_")) >= 32
    for key in board_keys:
        assert len(_random_bytes(key, "rk_board_")) >= 32
    assert len(set(agent_keys) | set(board_keys)) == 6
