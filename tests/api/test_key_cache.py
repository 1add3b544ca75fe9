"""API keys answered from memory for `key_cache_seconds`: a warm key costs no request; another process's
revocation or termination takes effect within the bound, this process's own at once."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import authenticate, hash_key
from chalicelib.store import directory
from chalicelib.store.tables import ApiKeyItem, DirectoryItem
from routines.metering import counting_requests
from tests.support import World


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    directory.PRINCIPALS.configure(runtime.settings().key_cache_seconds)
    yield
    directory.PRINCIPALS.configure(runtime.settings().key_cache_seconds)


@pytest.fixture
def bound() -> int:
    """The configured bound, in seconds (30 unless the environment says otherwise)."""
    return runtime.settings().key_cache_seconds


def _bearer(key: str | None) -> str:
    assert key
    return f"Bearer {key}"


def _revoke_elsewhere(key: str | None) -> None:
    """What another process's revocation leaves in the table (this process's cache is not told)."""
    assert key
    ApiKeyItem(hash_key(key)).update([ApiKeyItem.revokedAt.set(to_iso(runtime.now()))])


def test_a_warm_key_answers_from_memory_without_a_request(world: World, bound: int) -> None:
    now = runtime.now()
    with counting_requests() as cold:
        first = authenticate(_bearer(world.alpha.key), now)
    with counting_requests() as warm:
        again = authenticate(_bearer(world.alpha.key), now + timedelta(seconds=bound - 1))
    assert (sum(cold.values()), sum(warm.values())) == (2, 0)  # the key, then the agent (terminated?)
    assert again == first


def test_another_process_s_revocation_takes_effect_after_the_bound(world: World, bound: int) -> None:
    now = runtime.now()
    authenticate(_bearer(world.alpha.key), now)
    _revoke_elsewhere(world.alpha.key)
    assert authenticate(_bearer(world.alpha.key), now + timedelta(seconds=bound - 1)).agent_id == world.alpha_id
    with pytest.raises(Unauthorized):
        authenticate(_bearer(world.alpha.key), now + timedelta(seconds=bound))


def test_another_process_s_termination_takes_effect_after_the_bound(world: World, bound: int) -> None:
    now = runtime.now()
    authenticate(_bearer(world.bravo.key), now)
    DirectoryItem(world.company_id, f"AGENT#{world.bravo_id}").update([DirectoryItem.status.set("terminated")])
    assert authenticate(_bearer(world.bravo.key), now + timedelta(seconds=bound - 1)).agent_id == world.bravo_id
    with pytest.raises(Unauthorized):
        authenticate(_bearer(world.bravo.key), now + timedelta(seconds=bound))


def test_the_revoking_process_refuses_the_key_at_once(world: World) -> None:
    now = runtime.now()
    authenticate(_bearer(world.alpha.key), now)
    assert world.alpha.key and directory.revoke_api_key(hash_key(world.alpha.key), to_iso(now))
    with pytest.raises(Unauthorized):
        authenticate(_bearer(world.alpha.key), now + timedelta(seconds=1))


def test_the_terminating_process_refuses_the_agent_s_keys_at_once(world: World) -> None:
    now = runtime.now()
    authenticate(_bearer(world.bravo.key), now)
    assert world.board.patch(f"/agents/{world.bravo_id}", {"status": "terminated"}).status_code == 200
    with pytest.raises(Unauthorized):
        authenticate(_bearer(world.bravo.key), now + timedelta(seconds=1))
    assert world.bravo.get(f"/companies/{world.company_id}/routines").status_code == 401


def test_a_bound_of_zero_reads_the_key_every_time(world: World) -> None:
    directory.PRINCIPALS.configure(0)
    now = runtime.now()
    authenticate(_bearer(world.alpha.key), now)
    with counting_requests() as again:
        authenticate(_bearer(world.alpha.key), now)
    assert sum(again.values()) == 2
