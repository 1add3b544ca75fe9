"""Backfill: fire the slots of a schedule trigger in a past window, each once, as the tick would have."""

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.cron import Schedule, count_fire_times, fire_times
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import Principal, Routine, RoutineStatus, Run
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import require_manage
from chalicelib.services.commands import Backfill
from chalicelib.services.runs import reload_routine
from chalicelib.services.scheduler import fire_slot
from chalicelib.services.triggers import load_trigger, schedule_of

MAX_BACKFILL_SLOTS = 100
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class Backfilled:
    """The runs a backfill wrote, oldest first, and the earlier run of each slot that had already fired."""

    runs: list[Run]
    already_fired: list[Run]


def backfill(principal: Principal, routine: Routine, command: Backfill, now: datetime, new_id: IdFactory) -> Backfilled:
    """Fires each slot in [from, to) once, in time order, under the concurrency policy; a claimed slot is not
    fired again but reported with its earlier run."""
    require_manage(principal, routine)
    trigger, _ = load_trigger(command.trigger_id)
    if trigger.routine_id != routine.id:
        raise NotFound("Routine trigger not found")
    if routine.status == RoutineStatus.archived:
        raise Conflict("Routine is archived")
    written: list[Run] = []
    earlier: list[Run] = []
    for slot in window_slots(schedule_of(trigger), command, now):
        fired = fire_slot(routine, trigger, to_iso(slot), now, new_id, None, backfill=True)
        (written if fired.written else earlier).append(fired.run)
        routine = reload_routine(routine.id)  # the slot may have changed the routine's open issues
    return Backfilled(written, earlier)


def window_slots(schedule: Schedule, command: Backfill, now: datetime) -> list[datetime]:
    """The fire times in [from, to), oldest first; 400 for a window in the future, reversed, or over the cap."""
    if command.end > now:
        raise BadRequest("Backfill window must not end in the future")
    if command.start > command.end:
        raise BadRequest("Backfill window must start before it ends")
    after, until = command.start - _JUST_BEFORE, command.end - _JUST_BEFORE
    slots = list(itertools.islice(fire_times(schedule, after, until), MAX_BACKFILL_SLOTS + 1))
    if len(slots) > MAX_BACKFILL_SLOTS:
        total = count_fire_times(schedule, after, until)
        raise BadRequest(f"Backfill window holds {total} slots; at most {MAX_BACKFILL_SLOTS} per request")
    return slots
