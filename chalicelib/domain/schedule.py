"""Catch-up planning: which slots a trigger fires when the tick finds it due or late."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.cron import (
    Schedule,
    count_fire_times,
    fire_times,
    next_fire_after,
)

# The first look-back window for the latest slots; it grows until it holds enough of them.
_FIRST_WINDOW = timedelta(hours=1)


class CatchUpPolicy(StrEnum):
    """What the tick does with the slots it finds in the past."""

    skip_missed = "skip_missed"
    enqueue_missed_with_cap = "enqueue_missed_with_cap"


@dataclass(frozen=True)
class DroppedSlots:
    """Slots that will never fire, recorded as one skipped run."""

    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class SlotPlan:
    """The slots to fire now, oldest first, those dropped, and the next slot after now."""

    fire: tuple[datetime, ...]
    dropped: DroppedSlots | None
    next_run_at: datetime | None


def plan_slots(
    schedule: Schedule,
    due: datetime,
    now: datetime,
    policy: CatchUpPolicy,
    grace: timedelta = timedelta(minutes=5),
    cap: int = 25,
) -> SlotPlan:
    """Split the slots in [due, now] into those to fire and one record of those dropped."""
    if due > now:
        return SlotPlan(fire=(), dropped=None, next_run_at=due)
    keep = cap if policy == CatchUpPolicy.enqueue_missed_with_cap else 1
    total, recent = _latest_slots(schedule, due, now, keep + 1)
    fire = recent[max(len(recent) - keep, 0) :]
    if policy == CatchUpPolicy.skip_missed and now - fire[-1] > grace:
        fire = []
    dropped = None
    if total > len(fire):
        dropped = DroppedSlots(total - len(fire), first=due, last=recent[-len(fire) - 1])
    return SlotPlan(tuple(fire), dropped, next_fire_after(schedule, now))


def _latest_slots(schedule: Schedule, due: datetime, now: datetime, size: int) -> tuple[int, list[datetime]]:
    """How many slots [due, now] holds, and the latest `size` of them, oldest first."""
    window = _FIRST_WINDOW
    while (start := max(due, now - window)) > due:
        recent = list(fire_times(schedule, start, now))
        if len(recent) >= size:
            earlier = 1 + count_fire_times(schedule, due, start)
            return earlier + len(recent), recent[-size:]
        window *= 4
    # `due` is a slot even when the expression has changed since it was stored.
    slots = [due, *fire_times(schedule, due, now)]
    return len(slots), slots[-size:]
