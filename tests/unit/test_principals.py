"""The in-process key cache on its own: expiry by the injected clock, forgetting, and its capacity."""

from datetime import UTC, datetime, timedelta

from chalicelib.domain.models import Principal
from chalicelib.settings import load_settings
from chalicelib.store.directory import Principals

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Reads:
    """A key's stored principal (None: unknown or revoked), counting how often it is read."""

    def __init__(self, principal: Principal | None) -> None:
        self.principal, self.count = principal, 0

    def __call__(self) -> Principal | None:
        self.count += 1
        return self.principal


def _board(key_hash: str) -> Principal:
    return Principal.for_board(None, key_hash)


def test_a_kept_principal_is_answered_until_its_time_is_up() -> None:
    cache, reads = Principals(seconds=30), Reads(_board("a"))
    for offset in (0, 29, 30):
        assert cache.lookup("a", T0 + timedelta(seconds=offset), reads) == _board("a")
    assert reads.count == 2  # at 0 and again at 30


def test_an_unknown_key_is_never_kept() -> None:
    cache, reads = Principals(seconds=30), Reads(None)
    for _ in range(2):
        assert cache.lookup("x", T0, reads) is None
    assert reads.count == 2


def test_a_forget_during_a_read_keeps_nothing_from_it() -> None:
    cache = Principals(seconds=30)

    def revoked_meanwhile() -> Principal:
        cache.forget(lambda principal: principal.key_hash == "a")
        return _board("a")

    cache.lookup("a", T0, revoked_meanwhile)
    assert cache.lookup("a", T0, Reads(None)) is None


def test_past_its_capacity_the_oldest_key_goes_first() -> None:
    cache = Principals(seconds=30, capacity=2)
    for name in ("a", "b", "c"):
        cache.lookup(name, T0, Reads(_board(name)))
    assert cache.lookup("a", T0, Reads(None)) is None
    assert cache.lookup("c", T0, Reads(None)) == _board("c")


def test_the_bound_is_30_seconds_unless_the_environment_says_otherwise() -> None:
    assert load_settings({}).key_cache_seconds == 30
    assert load_settings({"ROUTINES_KEY_CACHE_SECONDS": "0"}).key_cache_seconds == 0
