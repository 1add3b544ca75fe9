"""Routines and their triggers."""

import hashlib

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.domain.models import (
    OpenIssue,
    Routine,
    RoutineStatus,
    Trigger,
)
from chalicelib.domain.queries import RoutineQuery
from chalicelib.domain.variables import variable_json, variable_of
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.mapping import from_item, to_item, update_actions
from chalicelib.store.pages import BY_UPDATE, Page, query_page
from chalicelib.store.tables import LAYOUT, ClaimItem, RoutineItem, TriggerItem, read
from chalicelib.store.tx import Tx, TxCancelled


class StaleRoutine(Exception):
    """The routine changed since it was read (its version moved on)."""


def get_routine(routine_id: str) -> Routine | None:
    item = read(RoutineItem, routine_id)
    return _routine(item) if item else None


def get_routines(routine_ids: set[str]) -> dict[str, Routine]:
    """Routines by id, read consistently in batches of a hundred."""
    items = RoutineItem.batch_get(sorted(routine_ids), consistent_read=True)
    return {item.id: _routine(item) for item in items}


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


def put_routine(routine: Routine) -> None:
    _routine_item(routine).save(RoutineItem.id.does_not_exist())


def save_routine(routine: Routine, read_version: int) -> None:
    """Writes the routine's own fields if nobody changed them since `read_version`.

    Dispatch-owned attributes (`openIssues`, `lastTriggeredAt`, ...) are left as they are.
    """
    actions = update_actions(_routine_item(routine), _ROUTINE_KEPT)
    actions.append(RoutineItem.version.set(read_version + 1))
    try:
        RoutineItem(routine.id).update(actions, condition=RoutineItem.version == read_version)
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise StaleRoutine(routine.id) from exc
        raise


# Written once at creation, or only by the dispatch and close transactions: a save leaves them alone.
_ROUTINE_KEPT = frozenset(
    {"id", "companyId", "createdAt", "createdByAgentId", "version", "openIssues", "lastTriggeredAt", "lastEnqueuedAt"}
)
_TRIGGER_KEPT = frozenset(
    {"id", "routineId", "companyId", "kind", "publicId", "createdAt", "lastFiredAt", "lastResult"}
)


def _routine_item(routine: Routine) -> RoutineItem:
    # The open set belongs to the dispatch transactions.
    return to_item(RoutineItem, routine, openIssues=None, variables=[variable_json(v) for v in routine.variables])


def _routine(item: RoutineItem) -> Routine:
    open_issues = frozenset(OpenIssue.decode(text) for text in item.openIssues or ())
    variables = tuple(variable_of(data) for data in item.variables or ())
    return from_item(Routine, item, open_issues=open_issues, variables=variables)


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
    items = TriggerItem.batch_get(sorted(set(trigger_ids)), consistent_read=True)
    return {item.id: _trigger(item) for item in items}


def list_triggers(routine_id: str) -> list[Trigger]:
    return [_trigger(item) for item in TriggerItem.byRoutine.query(routine_id)]


def trigger_id_for_public_id(public_id: str) -> str | None:
    lookup = read(ClaimItem, f"public#{public_id}")
    return lookup.targetId if lookup else None


def put_trigger(trigger: Trigger, routine_status: RoutineStatus) -> None:
    """Creates a trigger, and for a webhook its `public#` lookup item, in one transaction."""
    tx = Tx()
    tx.put(
        "trigger",
        _trigger_item(trigger, routine_status),
        TriggerItem.id.does_not_exist(),
    )
    if trigger.webhook:
        lookup = ClaimItem(
            f"public#{trigger.webhook.public_id}",
            targetId=trigger.id,
            routineId=trigger.routine_id,
        )
        tx.put("public", lookup, ClaimItem.key.does_not_exist())
    tx.commit()


def save_trigger(trigger: Trigger, routine_status: RoutineStatus) -> None:
    """Replaces a trigger's configuration if it still exists (dispatch bookkeeping is kept)."""
    actions = update_actions(_trigger_item(trigger, routine_status), _TRIGGER_KEPT)
    try:
        TriggerItem(trigger.id).update(actions, condition=TriggerItem.id.exists())
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise TriggerGone(trigger.id) from exc
        raise


class TriggerGone(Exception):
    """The trigger was deleted meanwhile."""


def delete_trigger(trigger: Trigger) -> None:
    tx = Tx()
    tx.delete("trigger", TriggerItem(trigger.id))
    if trigger.webhook:
        tx.delete("public", ClaimItem(f"public#{trigger.webhook.public_id}"))
    tx.commit()


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
