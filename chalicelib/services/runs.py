"""Firing a routine. `start_run` is the only code that creates runs and execution issues."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import Conflict, DomainError, Forbidden, Invalid
from chalicelib.domain.gate import NO_EXTERNAL_ACTIVITY, GateVerdict
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.limits import check_payload
from chalicelib.domain.models import (
    ROUTINE_EXECUTION,
    ConcurrencyPolicy,
    Issue,
    IssueStatus,
    Principal,
    Routine,
    RoutineStatus,
    Run,
    RunSource,
    RunStatus,
    Trigger,
)
from chalicelib.domain.policies import decide_overlap, trigger_result
from chalicelib.domain.schedule import DroppedSlots
from chalicelib.domain.templating import Content, plan_content
from chalicelib.domain.timefmt import to_iso
from chalicelib.observability import Metric, metrics
from chalicelib.services.auth import require_manage
from chalicelib.services.references import check_assignable, check_references
from chalicelib.store import directory, routines, runs
from chalicelib.store.ratelimit import Window
from chalicelib.store.retries import DISPATCH_ATTEMPTS
from chalicelib.store.runs import Advance, Claim, TriggerTouch

if TYPE_CHECKING:  # a request command (pydantic): the tick and dispatcher import this module without it
    from chalicelib.services.commands import RunRoutine

SLOT_CLAIM_TTL_SEC = 7 * 86400


class DeliveryReplayed(Conflict):
    """An exact replay of an accepted signed delivery."""


class TriggerNotActive(Conflict):
    """The routine is paused or archived, or the trigger disabled, for a firing that needs them active."""


@dataclass(frozen=True)
class Firing:
    """One request to fire a routine: where it came from, what makes it happen once, what its run records.

    `advance` moves a schedule trigger on in the same transaction (the tick's last slot); each of `windows` (a
    webhook delivery's rate-limit counters) gains a hit in it, and a full one cancels it (`WindowFull`).
    """

    source: RunSource
    trigger: Trigger | None = None
    payload: dict[str, Any] | None = None
    claims: tuple[Claim, ...] = ()
    idempotency_key: str | None = None
    scheduled_for: str | None = None
    created_by_agent_id: str | None = None
    advance: Advance | None = None
    backfill: bool = False
    variables: Mapping[str, Any] | None = None
    assignee_agent_id: str | None = None
    project_id: str | None = None
    windows: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Fired:
    """What a firing did: `written` is False when a claim showed it happened before and `run` is that earlier run."""

    run: Run
    written: bool


def start_run(routine: Routine, firing: Firing, now: datetime, new_id: IdFactory) -> Fired:
    """Fires the routine once: one transaction applies the concurrency policy and writes the claims.

    When a claim shows the firing already happened, returns that earlier run instead
    (or raises `DeliveryReplayed` for a replayed webhook signature).
    """
    check_payload(firing.payload)  # before anything is written: an item DynamoDB refuses would burn an issue number
    for _ in range(DISPATCH_ATTEMPTS):
        assignee = _check_can_fire(routine, firing)
        content = _content(routine, firing, assignee, now)
        status = decide_overlap(routine.concurrency_policy, routine.open_issue_for(content.key))
        run = _new_run(
            routine,
            firing,
            status,
            now,
            new_id,
            idempotency_key=firing.idempotency_key,
            trigger_payload=content.trigger_payload,
            dispatch_fingerprint=content.fingerprint,
        )
        try:
            return Fired(_write(routine, run, firing, content, new_id), written=True)
        except runs.ClaimTaken as exc:
            return Fired(_earlier_run(routine, exc.claim, firing.trigger, firing.advance), written=False)
        except runs.RoutineMoved:
            routine = reload_routine(routine.id)
        except runs.AssigneeUnavailable:
            check_assignable(routine.company_id, assignee)
            routine = reload_routine(routine.id)
        except runs.TriggerUnavailable as exc:
            raise TriggerNotActive("Routine trigger is not active") from exc
    raise Conflict("Routine is busy; retry the run")


def _new_run(
    routine: Routine,
    firing: Firing,
    status: RunStatus,
    now: datetime,
    new_id: IdFactory,
    **fields: Any,
) -> Run:
    stamp = to_iso(now)
    return Run(
        id=new_id(),
        routine_id=routine.id,
        company_id=routine.company_id,
        source=firing.source,
        status=status,
        triggered_at=stamp,
        created_at=stamp,
        updated_at=stamp,
        trigger_id=firing.trigger.id if firing.trigger else None,
        scheduled_for=firing.scheduled_for,
        routine_revision_id=routine.latest_revision_id,
        backfill=firing.backfill,
        **fields,
    )


def _check_can_fire(routine: Routine, firing: Firing) -> str:
    """The assignee the firing's issue would get, once the routine and trigger may fire."""
    automatic = firing.source in (RunSource.schedule, RunSource.webhook)
    if (automatic and routine.status != RoutineStatus.active) or (firing.trigger and not firing.trigger.enabled):
        raise TriggerNotActive("Routine trigger is not active")
    if routine.status == RoutineStatus.archived:
        raise Conflict("Routine is archived")
    assignee = firing.assignee_agent_id or routine.assignee_agent_id
    if assignee is None:
        raise Invalid("Default agent required")
    return assignee


def _content(routine: Routine, firing: Firing, assignee: str, now: datetime) -> Content:
    project = firing.project_id or routine.project_id
    from_webhook = firing.source == RunSource.webhook
    return plan_content(routine, firing.payload, firing.variables, from_webhook, (assignee, project), now)


def _write(routine: Routine, run: Run, firing: Firing, content: Content, new_id: IdFactory) -> Run:
    into = routine.open_issue_for(content.key)
    # `decide_overlap` coalesces or skips only into an open issue: with none, the firing creates one.
    if run.status == RunStatus.issue_created or into is None:
        issue = _execution_issue(routine, run, content, new_id, firing.created_by_agent_id)
        run = replace(run, linked_issue_id=issue.id)
        exclusive = routine.concurrency_policy != ConcurrencyPolicy.always_enqueue
        runs.write_issue_run(routine, run, issue, firing.claims, _touch(firing, run), exclusive, firing.windows)
        return _counted(run)
    run = replace(
        run,
        linked_issue_id=into.issue_id,
        coalesced_into_run_id=into.run_id,
        completed_at=run.triggered_at,
    )
    runs.write_linked_run(routine, run, into, firing.claims, _touch(firing, run), firing.windows)
    return _counted(run)


def _counted(run: Run) -> Run:
    """Counts a newly written run (an earlier run returned for a retry is not a new dispatch)."""
    metrics({Metric.RUNS_DISPATCHED: 1}, {"Source": run.source, "Status": run.status})
    return run


def _execution_issue(
    routine: Routine, run: Run, content: Content, new_id: IdFactory, created_by_agent_id: str | None
) -> Issue:
    return Issue(
        id=new_id(),
        company_id=routine.company_id,
        identifier=directory.ISSUE_NUMBERS.allocate(routine.company_id),
        title=content.title,
        description=content.description,
        status=IssueStatus.todo,
        priority=routine.priority,
        assignee_agent_id=content.assignee_agent_id,
        project_id=content.project_id,
        goal_id=routine.goal_id,
        parent_id=routine.parent_issue_id,
        created_at=run.triggered_at,
        updated_at=run.triggered_at,
        origin_kind=ROUTINE_EXECUTION,
        origin_id=routine.id,
        origin_run_id=run.id,
        created_by_agent_id=created_by_agent_id if run.source == RunSource.manual else None,
        origin_fingerprint=content.key,
    )


def _touch(firing: Firing, run: Run) -> TriggerTouch | None:
    if firing.trigger is None:
        return None
    result = trigger_result(run.status, run.linked_issue_id)
    return TriggerTouch(firing.trigger.id, run.triggered_at, result, firing.advance)


def _earlier_run(routine: Routine, claim: Claim, trigger: Trigger | None, advance: Advance | None) -> Run:
    if claim.key.startswith("replay#"):
        raise DeliveryReplayed("Webhook delivery already received")
    if trigger and advance:
        # The slot fired before a crash or in an overlapping tick: only the advance is left to do.
        runs.advance_trigger(trigger.id, advance)
    run_id = runs.run_id_of_claim(claim.key)
    earlier = runs.get_run(routine.id, run_id) if run_id else None
    if earlier is None:
        raise Conflict("This firing was already recorded")
    return earlier


def reload_routine(routine_id: str) -> Routine:
    """The routine as stored now (routines are archived, never deleted: a missing one is not active)."""
    routine = routines.get_routine(routine_id)
    if routine is None:
        raise TriggerNotActive("Routine not found")
    return routine


def record_failure(routine: Routine, firing: Firing, error: DomainError, now: datetime, new_id: IdFactory) -> Fired:
    """Records a firing that could not dispatch as a `failed` run, once per claim (a schedule slot's)."""
    fields = {"failure_reason": error.message, "completed_at": to_iso(now)}
    run = _new_run(routine, firing, RunStatus.failed, now, new_id, **fields)
    touch = None
    if firing.trigger:
        touch = TriggerTouch(firing.trigger.id, run.triggered_at, "Execution failed", firing.advance)
    return _write_final(routine, run, firing, touch)


def record_dropped(
    routine: Routine, trigger: Trigger, dropped: DroppedSlots, now: datetime, new_id: IdFactory
) -> Fired:
    """Records missed slots that will not fire as one `skipped` run, so nothing disappears silently."""
    first, last = to_iso(dropped.first), to_iso(dropped.last)
    claim = Claim(f"drop#{trigger.id}#{first}", expires_in(now, SLOT_CLAIM_TTL_SEC))
    firing = Firing(RunSource.schedule, trigger, claims=(claim,), scheduled_for=first)
    run = _new_run(
        routine,
        firing,
        RunStatus.skipped,
        now,
        new_id,
        failure_reason="missed",
        completed_at=to_iso(now),
        dropped_slots={"count": dropped.count, "first": first, "last": last},
    )
    touch = TriggerTouch(trigger.id, None, f"Dropped {dropped.count} missed slots")
    return _write_final(routine, run, firing, touch)


def record_paused(
    routine: Routine, trigger: Trigger, slot: str, advance: Advance, now: datetime, new_id: IdFactory
) -> Fired:
    """Records a paused project's scheduled slot as a `skipped` run with no issue; the trigger advances with it,
    so no catch-up is owed. The slot's claim makes it the slot's one outcome."""
    suppressed = _Suppressed("paused", "Skipped because the project is paused")
    return _record_suppressed(routine, trigger, slot, advance, suppressed, now, new_id)


def record_quiet(
    routine: Routine,
    trigger: Trigger,
    slot: str,
    advance: Advance,
    verdict: GateVerdict,
    now: datetime,
    new_id: IdFactory,
) -> Fired:
    """Records a gated slot with no qualifying activity as a `skipped` run with no issue, as a paused one is;
    the gate's window stays where it was."""
    suppressed = _Suppressed(NO_EXTERNAL_ACTIVITY, "skipped_no_activity", verdict.payload())
    return _record_suppressed(routine, trigger, slot, advance, suppressed, now, new_id)


@dataclass(frozen=True)
class _Suppressed:
    """Why a scheduled slot was recorded without firing: the run's reason, the trigger's result, the payload."""

    reason: str
    result: str
    payload: dict[str, Any] | None = None


def _record_suppressed(
    routine: Routine,
    trigger: Trigger,
    slot: str,
    advance: Advance,
    suppressed: _Suppressed,
    now: datetime,
    new_id: IdFactory,
) -> Fired:
    claims = (slot_claim(trigger.id, slot, now),)
    firing = Firing(RunSource.schedule, trigger, claims=claims, scheduled_for=slot, advance=advance)
    fields = {"failure_reason": suppressed.reason, "completed_at": to_iso(now), "trigger_payload": suppressed.payload}
    run = _new_run(routine, firing, RunStatus.skipped, now, new_id, **fields)
    touch = TriggerTouch(trigger.id, run.triggered_at, suppressed.result, advance)
    return _write_final(routine, run, firing, touch)


def _write_final(routine: Routine, run: Run, firing: Firing, touch: TriggerTouch | None) -> Fired:
    try:
        runs.write_final_run(run, firing.claims, touch)
    except runs.ClaimTaken as exc:
        return Fired(_earlier_run(routine, exc.claim, firing.trigger, firing.advance), written=False)
    except runs.TriggerUnavailable as exc:
        raise TriggerNotActive("Routine trigger is not active") from exc
    return Fired(_counted(run), written=True)


def expires_in(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) + seconds


def slot_claim(trigger_id: str, slot: str, now: datetime) -> Claim:
    return Claim(f"slot#{trigger_id}#{slot}", expires_in(now, SLOT_CLAIM_TTL_SEC))


def idempotency_claim(routine_id: str, source: RunSource, trigger_id: str | None, key: str) -> Claim:
    """Scope: routine, source, trigger (or none) and the caller's key (hashed: keys are arbitrary text)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Claim(f"idem#{routine_id}#{source}#{trigger_id or '-'}#{digest}")


def run_routine(principal: Principal, routine: Routine, command: "RunRoutine", now: datetime, new_id: IdFactory) -> Run:
    """A manual or API firing; a paused routine may be run by hand, an archived one not."""
    require_manage(principal, routine)
    source = RunSource(command.source)
    trigger = _named_trigger(routine, command.trigger_id)
    key = command.idempotency_key
    claims = (idempotency_claim(routine.id, source, trigger.id if trigger else None, key),) if key else ()
    _check_overrides(routine, command)
    firing = Firing(
        source,
        trigger,
        payload=command.payload,
        claims=claims,
        idempotency_key=key,
        created_by_agent_id=principal.agent_id,
        variables=command.variables,
        assignee_agent_id=command.assignee_agent_id,
        project_id=command.project_id,
    )
    return start_run(routine, firing, now, new_id).run


def _check_overrides(routine: Routine, command: "RunRoutine") -> None:
    """A run's own assignee and project must be the routine company's, as the routine's must."""
    named = {name for name in ("assignee_agent_id", "project_id") if getattr(command, name)}
    overridden = replace(routine, **{name: getattr(command, name) for name in named})
    check_references(overridden, frozenset(named))


def _named_trigger(routine: Routine, trigger_id: str | None) -> Trigger | None:
    """The trigger a manual run is attributed to; an unknown id is ignored, as in the reference."""
    trigger = routines.get_trigger(trigger_id) if trigger_id else None
    if trigger and trigger.routine_id != routine.id:
        raise Forbidden("Trigger does not belong to routine")
    return trigger
