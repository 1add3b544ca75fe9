"""Routines and their triggers."""

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.domain.models import (
    OpenIssue,
    Revision,
    Routine,
    RoutineStatus,
    Trigger,
)
from chalicelib.domain.queries import RoutineQuery
from chalicelib.domain.variables import variable_json, variable_of
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.mapping import from_item, to_item, update_actions
from chalicelib.store.pages import BY_UPDATE, Page, query_page
from chalicelib.store.revisions import add_revision, append_revision, latest_is
from chalicelib.store.tables import LAYOUT, ClaimItem, RoutineItem, TriggerItem, read, read_many
from chalicelib.store.tx import MAX_ITEMS, Tx, TxCancelled, TxContended


class StaleRoutine(Exception):
    """The routine changed since it was read (its version moved on)."""


def get_routine(routine_id: str) -> Routine | None:
    item = read(RoutineItem, routine_id)
    return _routine(item) if item else None


def get_routines(routine_ids: set[str]) -> dict[str, Routine]:
    """Routines by id, read consistently in batches of a hundred."""
    return {item.id: _routine(item) for item in read_many(RoutineItem, routine_ids)}


def list_routines(company_id: str, project_id: str | None = None) -> list[Routine]:
    condition = RoutineItem.projectId == project_id if project_id else None
    items = RoutineItem.byCompany.query(company_id, filter_condition=condition, scan_index_forward=False)
    return [_routine(item) for item in items]


def routine_page(company_id: str, query: RoutineQuery) -> Page[Routine]:
    """One page of the company's routines (of one project, if asked), most recently updated first."""
    condition = RoutineItem.projectId == query.project_id if query.project_id else None
    return query_page(
        RoutineItem.byCompany,
        _routine,
        company_id,
        query.limit,
        query.cursor,
        BY_UPDATE,
        filter_condition=condition,
        scan_index_forward=False,
    )


def put_routine(routine: Routine, revision: Revision) -> None:
    """Creates the routine with its first revision."""
    tx = Tx()
    # From its creation on, every run write records the routine's `lastRunId`.
    item = _routine_item(routine)
    item.runsTracked = True
    tx.put("routine", item, RoutineItem.id.does_not_exist())
    add_revision(tx, revision)
    _commit(tx)


def save_routine(
    routine: Routine, read: Routine, revision: Revision | None = None, base_revision_id: str | None = None
) -> None:
    """Writes the routine's own fields (and the revision recording them) if nobody changed the routine or
    appended a revision since `read`; with `base_revision_id`, only while that is still the latest.

    Dispatch-owned attributes (`openIssues`, `lastTriggeredAt`, ...) are left as they are.
    """
    actions = update_actions(_routine_item(routine), _ROUTINE_KEPT)
    actions.append(RoutineItem.version.set(read.version + 1))
    condition = (RoutineItem.version == read.version) & latest_is(read.latest_revision_number)
    if base_revision_id is not None:
        condition &= RoutineItem.latestRevisionId == base_revision_id
    tx = Tx()
    tx.update("routine", RoutineItem(routine.id), actions, condition)
    if revision:
        add_revision(tx, revision)
    _commit(tx)


def _commit(tx: Tx) -> None:
    """Commits a change of a routine's configuration; `StaleRoutine` when the routine moved on meanwhile."""
    try:
        tx.commit()
    except TxContended as exc:
        raise StaleRoutine() from exc
    except TxCancelled as exc:
        if exc.failed & {"routine", "revision", "revision-lookup"}:
            raise StaleRoutine() from exc
        if "trigger" in exc.failed:
            raise TriggerGone() from exc
        raise


# Written once at creation, or only by the dispatch and close transactions: a save leaves them alone.
_ROUTINE_KEPT = frozenset(
    {
        "id",
        "companyId",
        "createdAt",
        "createdByAgentId",
        "version",
        "openIssues",
        "lastTriggeredAt",
        "lastEnqueuedAt",
        "lastDispatchedAt",
        "lastRunId",
        "runsTracked",
    }
)
_TRIGGER_KEPT = frozenset(
    {"id", "routineId", "companyId", "kind", "publicId", "createdAt", "lastFiredAt", "lastResult"}
)


def _routine_item(routine: Routine) -> RoutineItem:
    # The open set belongs to the dispatch transactions. Lists go to pynamodb as lists: it stores a tuple as a string.
    trigger_ids = list(routine.trigger_ids) if routine.trigger_ids is not None else None
    variables = [variable_json(v) for v in routine.variables]
    return to_item(RoutineItem, routine, openIssues=None, variables=variables, triggerIds=trigger_ids)


def _routine(item: RoutineItem) -> Routine:
    open_issues = frozenset(OpenIssue.decode(text) for text in item.openIssues or ())
    variables = tuple(variable_of(data) for data in item.variables or ())
    trigger_ids = tuple(item.triggerIds) if item.triggerIds is not None else None
    return from_item(Routine, item, open_issues=open_issues, variables=variables, trigger_ids=trigger_ids)


def due_shard(trigger_id: str) -> str:
    """A stable shard of the sparse `due` index, from a hash of the trigger id."""
    digest = hashlib.sha256(trigger_id.encode()).digest()
    return f"due#{int.from_bytes(digest[:4]) % LAYOUT[0].due_shards}"


def is_due_candidate(trigger: Trigger, routine_status: RoutineStatus) -> bool:
    """Whether the trigger belongs in the `due` index."""
    return (
        trigger.schedule is not None
        and trigger.enabled
        and trigger.schedule.next_run_at is not None
        and routine_status == RoutineStatus.active
    )


def get_trigger(trigger_id: str) -> Trigger | None:
    item = read(TriggerItem, trigger_id)
    return _trigger(item) if item else None


def get_triggers(trigger_ids: list[str]) -> dict[str, Trigger]:
    """Triggers by id, read consistently in batches of a hundred (duplicate ids are read once)."""
    return {item.id: _trigger(item) for item in read_many(TriggerItem, trigger_ids)}


def list_triggers(routine_id: str) -> list[Trigger]:
    return [_trigger(item) for item in TriggerItem.byRoutine.query(routine_id)]


def public_key(public_id: str) -> str:
    """The key of the claims-table item that finds a webhook trigger from its public id."""
    return f"public#{public_id}"


def webhook_trigger(lookup: ClaimItem) -> Trigger | None:
    """The webhook trigger a `public#` item finds, from the copy it holds: its configuration, without the
    dispatch bookkeeping (`lastFiredAt`, `lastResult`). An item written before copies were kept costs a read."""
    if lookup.trigger is None:
        return get_trigger(lookup.targetId) if lookup.targetId else None
    return _trigger(TriggerItem(**lookup.trigger))


# What the dispatch transactions and the tick write on a trigger: never part of the `public#` copy.
_NOT_COPIED = frozenset({"lastFiredAt", "lastResult", "dueShard", "nextRunAt"})


def _copy(item: TriggerItem) -> dict[str, Any]:
    return {name: value for name, value in item.attribute_values.items() if name not in _NOT_COPIED}


def put_trigger(trigger: Trigger, routine_status: RoutineStatus, revision: Revision) -> None:
    """Creates a trigger, and for a webhook its `public#` lookup item, with the revision recording it."""
    tx = Tx()
    _add_trigger(tx, trigger, routine_status)
    append_revision(tx, revision)
    _commit(tx)


def _add_trigger(tx: Tx, trigger: Trigger, routine_status: RoutineStatus) -> None:
    item = _trigger_item(trigger, routine_status)
    tx.put("trigger", item, TriggerItem.id.does_not_exist())
    if trigger.webhook:
        lookup = ClaimItem(
            public_key(trigger.webhook.public_id),
            targetId=trigger.id,
            routineId=trigger.routine_id,
            trigger=_copy(item),
        )
        tx.put(f"public#{trigger.id}", lookup, ClaimItem.key.does_not_exist())


def save_trigger(trigger: Trigger, routine_status: RoutineStatus, revision: Revision | None = None) -> None:
    """Replaces a trigger's configuration if it still exists (dispatch bookkeeping is kept); with `revision`,
    appends it in the same transaction."""
    tx = Tx()
    _update_trigger(tx, trigger, routine_status)
    if revision:
        append_revision(tx, revision)
    _commit(tx)


def _update_trigger(tx: Tx, trigger: Trigger, routine_status: RoutineStatus) -> None:
    item = _trigger_item(trigger, routine_status)
    tx.update("trigger", TriggerItem(trigger.id), update_actions(item, _TRIGGER_KEPT), TriggerItem.id.exists())
    if trigger.webhook:
        # The copy a delivery is verified from changes with the trigger, or neither does.
        lookup = ClaimItem(public_key(trigger.webhook.public_id))
        tx.update(f"public#{trigger.id}", lookup, [ClaimItem.trigger.set(_copy(item))], ClaimItem.key.exists())


class TriggerGone(Exception):
    """The trigger was deleted meanwhile."""


def delete_trigger(trigger: Trigger, revision: Revision) -> None:
    """Deletes a trigger and its `public#` lookup, with the revision recording it."""
    tx = Tx()
    _remove_trigger(tx, trigger)
    append_revision(tx, revision)
    _commit(tx)


def _remove_trigger(tx: Tx, trigger: Trigger) -> None:
    tx.delete("trigger", TriggerItem(trigger.id))
    if trigger.webhook:
        tx.delete(f"public#{trigger.id}", ClaimItem(public_key(trigger.webhook.public_id)))


def set_due(trigger: Trigger, routine_status: RoutineStatus) -> None:
    """Puts the trigger in or out of the `due` index to match its routine's status.

    Putting it in requires the trigger to be enabled still, so a racing disable wins.
    """
    item = TriggerItem(trigger.id)
    actions: list[Action]
    condition = TriggerItem.id.exists()
    next_run_at = trigger.schedule.next_run_at if trigger.schedule else None
    if is_due_candidate(trigger, routine_status) and next_run_at:
        actions = [TriggerItem.dueShard.set(due_shard(trigger.id)), TriggerItem.nextRunAt.set(next_run_at)]
        condition &= TriggerItem.enabled == True  # noqa: E712 - a DynamoDB condition, not a truth test
    else:
        actions = [TriggerItem.dueShard.remove()]
    try:
        item.update(actions, condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def unindex_if_inactive(trigger: Trigger) -> None:
    """Takes the trigger out of the `due` index if its routine is still not active.

    Conditioned on the routine, so it cannot undo a reactivation that indexed the trigger meanwhile.
    """
    tx = Tx()
    inactive = RoutineItem.status.does_not_exist() | (RoutineItem.status != RoutineStatus.active.value)
    tx.check("routine", RoutineItem(trigger.routine_id), inactive)
    tx.update("trigger", TriggerItem(trigger.id), [TriggerItem.dueShard.remove()], TriggerItem.id.exists())
    try:
        tx.commit()
    except TxCancelled:
        return


def _trigger_item(trigger: Trigger, routine_status: RoutineStatus) -> TriggerItem:
    shard = due_shard(trigger.id) if is_due_candidate(trigger, routine_status) else None
    return to_item(TriggerItem, trigger, dueShard=shard)


def _trigger(item: TriggerItem) -> Trigger:
    return from_item(Trigger, item)


def all_due_shards() -> list[str]:
    return [f"due#{shard}" for shard in range(LAYOUT[0].due_shards)]


def due_in_shard(shard: str, now: str) -> list[tuple[str, str]]:
    """(trigger id, nextRunAt) of the shard's triggers due at `now`: cost follows due work, not stored work."""
    items = TriggerItem.due.query(shard, TriggerItem.nextRunAt <= now)
    return [(item.id, item.nextRunAt) for item in items]


@dataclass(frozen=True)
class Restore:
    """What restoring a revision writes: the routine (`read` as it was read) and its triggers."""

    routine: Routine
    read: Routine
    revision: Revision
    removed: tuple[Trigger, ...]
    saved: tuple[Trigger, ...]
    added: tuple[Trigger, ...]


def restore_revision(restore: Restore) -> None:
    """One transaction, or past DynamoDB's item limit an ordered sequence whose last transaction holds the
    routine and the revision: a sequence cut short leaves the latest revision as it was, to be restored again."""
    tx = Tx()
    actions = update_actions(_routine_item(restore.routine), _ROUTINE_KEPT)
    actions.append(RoutineItem.version.set(restore.read.version + 1))
    condition = (RoutineItem.version == restore.read.version) & latest_is(restore.read.latest_revision_number)
    tx.update("routine", RoutineItem(restore.routine.id), actions, condition)
    add_revision(tx, restore.revision)
    status = restore.routine.status
    steps = [
        *(functools.partial(_remove_trigger, trigger=trigger) for trigger in restore.removed),
        *(functools.partial(_update_trigger, trigger=trigger, routine_status=status) for trigger in restore.saved),
        *(functools.partial(_add_trigger, trigger=trigger, routine_status=status) for trigger in restore.added),
    ]
    earlier = Tx()
    for step in steps:
        if len(tx) + 2 > MAX_ITEMS:
            step(earlier)
            if len(earlier) + 2 > MAX_ITEMS:
                _commit(earlier)
                earlier = Tx()
        else:
            step(tx)
    if len(earlier):
        _commit(earlier)
    _commit(tx)
