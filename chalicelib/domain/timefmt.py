"""Timestamps as fixed-width UTC ISO-8601 strings, so string order is time order."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def to_iso(moment: datetime) -> str:
    """`2026-11-29T09:00:00.000Z` for an aware datetime."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def from_iso(text: str) -> datetime:
    """Parses any ISO-8601 instant; naive values are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_or_none(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def frozen_at(moment: datetime) -> Clock:
    """A clock that always reads `moment`: a tick by hand at a given time, or a test's fixed instant."""
    return lambda: moment
