"""Composition root: the real clock and id factory (everything else takes them as parameters)."""

from datetime import UTC, datetime

from chalicelib.domain.ids import Uuid7Factory

new_id = Uuid7Factory()


def now() -> datetime:
    return datetime.now(UTC)
