"""Recording revisions: every configuration change appends one, numbered after the routine's latest."""

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from chalicelib.domain.errors import Conflict
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import Principal, Revision, Routine, Trigger
from chalicelib.domain.revisions import snapshot_of, snapshot_trigger_ids
from chalicelib.domain.timefmt import to_iso
from chalicelib.store import revisions, routines
from chalicelib.store.retries import REVISION_ATTEMPTS

T = TypeVar("T")


def next_revision(
    routine: Routine,
    triggers: Iterable[Trigger],
    summary: str,
    principal: Principal,
    now: datetime,
    new_id: IdFactory,
    restored_from: Revision | None = None,
) -> Revision:
    """The revision that follows the routine's latest, recording it with these triggers."""
    snapshot = snapshot_of(routine, triggers)
    return Revision(
        id=new_id(),
        company_id=routine.company_id,
        routine_id=routine.id,
        revision_number=(routine.latest_revision_number or 0) + 1,
        title=routine.title,
        description=routine.description,
        snapshot=snapshot,
        change_summary=summary,
        created_at=to_iso(now),
        restored_from_revision_id=restored_from.id if restored_from else None,
        created_by_agent_id=principal.agent_id,
    )


def pointing_at(routine: Routine, revision: Revision) -> Routine:
    """The routine once `revision` is its latest."""
    return replace(
        routine,
        latest_revision_id=revision.id,
        latest_revision_number=revision.revision_number,
        trigger_ids=tuple(snapshot_trigger_ids(revision.snapshot)),
        updated_at=revision.created_at,
    )


def current_triggers(routine: Routine) -> list[Trigger]:
    """The routine's triggers, read consistently (see `current_triggers_of`)."""
    return current_triggers_of([routine])[routine.id]


def current_triggers_of(found: list[Routine]) -> dict[str, list[Trigger]]:
    """The routines' triggers, read consistently in batches of a hundred: every trigger change appends a
    revision, and the routine records the triggers that revision names (`trigger_ids`). A routine whose latest
    revision is older than that record reads the revision for them; one from before revisions (or whose revision
    is not found) is queried alone on the `byRoutine` index."""
    named = {routine.id: list(routine.trigger_ids) for routine in found if routine.trigger_ids is not None}
    keys = {
        (routine.id, routine.latest_revision_number)
        for routine in found
        if routine.id not in named and routine.latest_revision_number
    }
    latest = revisions.get_many_numbered(keys) if keys else {}
    named.update({routine_id: snapshot_trigger_ids(revision.snapshot) for routine_id, revision in latest.items()})
    wanted = [trigger_id for ids in named.values() for trigger_id in ids]
    triggers = routines.get_triggers(wanted) if wanted else {}
    result: dict[str, list[Trigger]] = {}
    for routine in found:
        if routine.id not in named:
            result[routine.id] = routines.list_triggers(routine.id)
            continue
        mine = (triggers[trigger_id] for trigger_id in named[routine.id] if trigger_id in triggers)
        result[routine.id] = sorted(mine, key=lambda trigger: (trigger.created_at, trigger.id))
    return result


def with_trigger(triggers: Iterable[Trigger], trigger: Trigger) -> list[Trigger]:
    """The triggers with `trigger` added, or in place of the one with its id."""
    return [*(other for other in triggers if other.id != trigger.id), trigger]


def retrying(change: Callable[[], T]) -> T:
    """Runs a change that reads the routine and appends a revision, again while another change won."""
    for _ in range(REVISION_ATTEMPTS):
        try:
            return change()
        except routines.StaleRoutine:
            continue
    raise Conflict("Routine is busy; retry")
