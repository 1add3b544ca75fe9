"""UUIDv7 identifiers: standard UUID text whose order is creation order."""

import re
import secrets
import threading
import uuid
from collections.abc import Callable

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Uuid7Factory:
    """Makes UUIDv7 ids; ids from one factory are strictly increasing, even within a millisecond.

    `clock` gives nanoseconds since the epoch (the composition root passes `time.time_ns`).
    """

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last = 0

    def __call__(self) -> str:
        with self._lock:
            # 48-bit milliseconds then 74 random bits; bumping the previous value keeps the
            # order strict when the clock stalls or two ids share a millisecond.
            candidate = (self._clock() // 1_000_000) << 74 | secrets.randbits(74)
            value = max(candidate, self._last + 1)
            self._last = value
        return str(_with_version_bits(value))


def _with_version_bits(value: int) -> uuid.UUID:
    ms, rand = value >> 74, value & ((1 << 74) - 1)
    rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def is_id(text: str) -> bool:
    """True for canonical lowercase UUID text (any version): malformed ids are simply not found."""
    return bool(_UUID.match(text))


IdFactory = Callable[[], str]
