"""Runs and claims: the dispatch transactions, which create execution issues with their runs."""

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import _Size
from pynamodb.expressions.update import Action

from chalicelib.domain.gate import Activity
from chalicelib.domain.models import (
    ASSIGNABLE_AGENT_STATUSES,
    Issue,
    OpenIssue,
    Routine,
    Run,
    Trigger,
)
from chalicelib.observability import log_exception
from chalicelib.store import activity, directory, routines
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.issues import identifier_claim, issue_item
from chalicelib.store.mapping import from_item, to_item
from chalicelib.store.pages import BY_ID, Page, query_page
from chalicelib.store.ratelimit import Window, add_hits, raise_full
from chalicelib.store.tables import (
    LAYOUT,
    ClaimItem,
    DirectoryItem,
    IssueItem,
    RoutineItem,
    RunItem,
    TriggerItem,
    read,
    read_many,
)
from chalicelib.store.tx import Tx, TxCancelled, TxContended


@dataclass(frozen=True)
class Claim:
    """A uniqueness guard written with the run it admits: `slot#…`, `idem#…`, `replay#…`, `drop#…`."""

    key: str
    expires_at: int | None = None


@dataclass(frozen=True)
class Advance:
    """Move a schedule trigger's `nextRunAt` from the value read to the next slot (None: never again)."""

    read: str
    to: str | None


@dataclass(frozen=True)
class TriggerTouch:
    """What a firing records on its trigger; the tick's last slot also advances it, atomically."""

    trigger_id: str
    fired_at: str | None
    result: str
    advance: Advance | None = None


class ClaimTaken(Exception):
    """A claim of this firing already exists: the firing happened before."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim.key)
        self.claim = claim


class RoutineMoved(Exception):
    """The routine changed since it was read (config, or its open issues): decide again."""


class AssigneeUnavailable(Exception):
    """The assignee is no longer assignable (terminated, pending approval or gone)."""


class TriggerUnavailable(Exception):
    """The trigger was disabled or deleted since it was read."""


def write_issue_run(
    routine: Routine,
    run: Run,
    issue: Issue,
    claims: tuple[Claim, ...],
    touch: TriggerTouch | None,
    exclusive: bool,
    windows: Sequence[Window] = (),
) -> None:
    """Creates the execution issue and its run, adding the issue to the routine's open set; the creation is
    activity of the routine's own work, and the run opens the routine's activity-gate window.

    With `exclusive`, the routine's open issues must be the ones read (the concurrency policy decided on them);
    each of `windows` (a webhook delivery's rate-limit counters) gains a hit, or a full one cancels it all."""
    entry = OpenIssue(issue.id, run.id, issue.origin_fingerprint).encode()
    condition = RoutineItem.version == routine.version
    if exclusive:
        condition &= _open_set_is(routine.open_issues)
    tx = Tx()
    tx.update(
        "routine",
        RoutineItem(routine.id),
        [
            RoutineItem.openIssues.add({entry}),
            RoutineItem.lastTriggeredAt.set(run.triggered_at),
            RoutineItem.lastEnqueuedAt.set(run.triggered_at),
            RoutineItem.lastDispatchedAt.set(run.triggered_at),
            RoutineItem.lastRunId.set(run.id),
        ],
        condition,
    )
    tx.put("issue", issue_item(issue), IssueItem.id.does_not_exist())
    activity.record(tx, Activity(issue.company_id, issue.project_id, run.triggered_at, routine.id))
    tx.put("identifier", identifier_claim(issue))
    tx.check(
        "assignee",
        DirectoryItem(issue.company_id, f"AGENT#{issue.assignee_agent_id}"),
        DirectoryItem.status.is_in(*ASSIGNABLE_AGENT_STATUSES),
    )
    _commit_run(tx, run, claims, touch, windows)


def _open_set_is(read: frozenset[OpenIssue]) -> Condition:
    """The open set is exactly `read`: as many entries, each still there."""
    if not read:
        return RoutineItem.openIssues.does_not_exist()
    condition: Condition = _Size(RoutineItem.openIssues) == len(read)  # pynamodb's `size` is untyped
    for entry in read:
        condition &= RoutineItem.openIssues.contains(entry.encode())
    return condition


def write_linked_run(
    routine: Routine,
    run: Run,
    into: OpenIssue,
    claims: tuple[Claim, ...],
    touch: TriggerTouch | None,
    windows: Sequence[Window] = (),
) -> None:
    """Writes a coalesced or skipped run, if `into` is still one of the routine's open issues (and `windows`
    have room, as for `write_issue_run`)."""
    condition = (RoutineItem.version == routine.version) & RoutineItem.openIssues.contains(into.encode())
    tx = Tx()
    tx.update(
        "routine",
        RoutineItem(routine.id),
        [
            RoutineItem.lastTriggeredAt.set(run.triggered_at),
            RoutineItem.lastEnqueuedAt.set(run.triggered_at),
            RoutineItem.lastRunId.set(run.id),
        ],
        condition,
    )
    _commit_run(tx, run, claims, touch, windows)


def write_final_run(run: Run, claims: tuple[Claim, ...], touch: TriggerTouch | None) -> None:
    """Writes a run that created nothing (failed, or a record of dropped slots), as the routine's last run.

    The routine update has no condition, so it cannot cancel the run; routines are never deleted, so it never
    creates one. Concurrent run writes of one routine leave the last committed as `lastRunId`.
    """
    tx = Tx()
    tx.update("routine", RoutineItem(run.routine_id), [RoutineItem.lastRunId.set(run.id)])
    _commit_run(tx, run, claims, touch)


def _commit_run(
    tx: Tx, run: Run, claims: tuple[Claim, ...], touch: TriggerTouch | None, windows: Sequence[Window] = ()
) -> None:
    # A run that is final when written (it opened no issue) expires after the retention age; its claims too,
    # but never before their own expiry (a slot claim's guards the tick).
    layout = LAYOUT[0]
    expires_at = layout.run_expiry(run.completed_at) if run.completed_at else None
    tx.put("run", to_item(RunItem, run, expiresAt=expires_at), RunItem.id.does_not_exist())
    retained = layout.run_expiry(run.triggered_at)
    for claim in claims:
        item = ClaimItem(
            claim.key,
            runId=run.id,
            routineId=run.routine_id,
            expiresAt=_later(claim.expires_at, retained),
        )
        tx.put(claim.key, item, ClaimItem.key.does_not_exist())
    if touch:
        _touch_trigger(tx, touch)
    add_hits(tx, windows)
    try:
        tx.commit()
    except TxContended as exc:
        # Real DynamoDB cancels colliding transactions outright; read again and decide again.
        raise RoutineMoved() from exc
    except TxCancelled as exc:
        raise_full(exc.failed, windows)  # first: over its limit, a delivery learns nothing else
        _raise_for(exc.failed, claims)


def _later(first: int | None, second: int | None) -> int | None:
    """The later expiry; None (never) when neither expires."""
    return max((at for at in (first, second) if at is not None), default=None)


def _touch_trigger(tx: Tx, touch: TriggerTouch) -> None:
    actions: list[Action] = [TriggerItem.lastResult.set(touch.result)]
    if touch.fired_at:
        actions.append(TriggerItem.lastFiredAt.set(touch.fired_at))
    condition = TriggerItem.id.exists() & (TriggerItem.enabled == True)  # noqa: E712 (a pynamodb condition)
    if touch.advance:
        actions += _advance_actions(touch.advance.to)
        condition &= TriggerItem.nextRunAt == touch.advance.read
    tx.update("trigger", TriggerItem(touch.trigger_id), actions, condition)


def _advance_actions(next_run_at: str | None) -> list[Action]:
    if next_run_at:
        return [TriggerItem.nextRunAt.set(next_run_at)]
    return [TriggerItem.nextRunAt.remove(), TriggerItem.dueShard.remove()]


def advance_trigger(trigger_id: str, advance: Advance) -> bool:
    """Moves `nextRunAt` on if it still holds the value read; False when someone else moved it."""
    try:
        TriggerItem(trigger_id).update(
            _advance_actions(advance.to),
            condition=TriggerItem.nextRunAt == advance.read,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def _raise_for(failed: set[str], claims: tuple[Claim, ...]) -> None:
    for claim in claims:
        if claim.key in failed:
            raise ClaimTaken(claim)
    if "routine" in failed:
        raise RoutineMoved()
    if "assignee" in failed:
        raise AssigneeUnavailable()
    if "trigger" in failed:
        raise TriggerUnavailable()
    raise RuntimeError(f"dispatch cancelled by {sorted(failed)}")


def run_id_of_claim(key: str) -> str | None:
    claim = read(ClaimItem, key)
    return claim.runId if claim else None


def get_run(routine_id: str, run_id: str) -> Run | None:
    item = read(RunItem, routine_id, run_id)
    return _run(item) if item else None


def get_runs(keys: set[tuple[str, str]]) -> dict[str, Run]:
    """Runs by (routine id, run id), read consistently in batches of a hundred, by routine id."""
    return {item.routineId: _run(item) for item in read_many(RunItem, keys)}


def list_runs(routine_id: str, limit: int) -> list[Run]:
    return run_page(routine_id, limit, None).items


def run_page(routine_id: str, limit: int, cursor: str | None) -> Page[Run]:
    """One page of the routine's runs, newest first (ids are time-ordered)."""
    # One item beyond the page tells whether another page follows.
    return query_page(RunItem, _run, routine_id, limit, cursor, BY_ID, scan_index_forward=False, limit=limit + 1)


def _run(item: RunItem) -> Run:
    return from_item(Run, item)


@dataclass(frozen=True)
class DueReads:
    """Due triggers, their routines and which of their projects are paused, read consistently. `owners` is
    None when the batch reads failed: then each is read on its own when asked for, so an unreadable one fails alone."""

    triggers: dict[str, Trigger]
    owners: dict[str, Routine] | None
    paused_projects: frozenset[str] = frozenset()

    def get(self, trigger_id: str) -> tuple[Trigger | None, Routine | None]:
        """The trigger (None if deleted) and its routine (None if gone)."""
        if self.owners is None:
            trigger = routines.get_trigger(trigger_id)
            return trigger, routines.get_routine(trigger.routine_id) if trigger else None
        trigger = self.triggers.get(trigger_id)
        return trigger, self.owners.get(trigger.routine_id) if trigger else None

    def in_paused_project(self, routine: Routine) -> bool:
        if routine.project_id is None:
            return False
        if self.owners is None:
            return bool(directory.paused_projects({(routine.company_id, routine.project_id)}))
        return routine.project_id in self.paused_projects


def read_due(trigger_ids: list[str]) -> DueReads:
    """The triggers, then their routines, then their projects in consistent batches: three requests per hundred."""
    try:
        triggers = routines.get_triggers(trigger_ids)
        owners = routines.get_routines({trigger.routine_id for trigger in triggers.values()})
        projects = {(routine.company_id, routine.project_id) for routine in owners.values() if routine.project_id}
        return DueReads(triggers, owners, directory.paused_projects(projects) if projects else frozenset())
    except Exception:  # any failure, a throttled batch or an item that no longer maps: fall back to one by one
        log_exception("batch read failed; reading triggers one by one", triggers=len(trigger_ids))
        return DueReads({}, None)
