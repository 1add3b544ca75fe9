"""The tick: find due schedule triggers, fire each slot exactly once, then advance.

Dispatch-then-advance with a claim per slot: overlapping ticks, a retried invocation or a crash
between the two steps can neither lose a slot nor fire it twice. With look-ahead, a tick also sends the
slots due before the next tick to a delayed delivery (SQS, or the local timer queue), which hands them to
`dispatch_delivery` at their second; the same claims keep such a slot to one run.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from chalicelib.domain.cron import Schedule, next_fire_after, parse_schedule
from chalicelib.domain.errors import DomainError
from chalicelib.domain.gate import GateVerdict, gate_verdict, is_gated, scope_of
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import (
    Routine,
    RoutineStatus,
    RunSource,
    Trigger,
)
from chalicelib.domain.schedule import CatchUpPolicy, plan_slots
from chalicelib.domain.timefmt import Clock, from_iso, iso_or_none, to_iso
from chalicelib.observability import log_exception
from chalicelib.services.runs import (
    Fired,
    Firing,
    TriggerNotActive,
    record_dropped,
    record_failure,
    record_paused,
    record_quiet,
    reload_routine,
    slot_claim,
    start_run,
)
from chalicelib.store import activity, routines, runs
from chalicelib.store.runs import Advance, DueReads

SendBatch = Callable[[list[str]], None]
# Trigger ids and the slot (ISO) they share: delivered to `dispatch_delivery` at that slot, not before.
SendLater = Callable[[list[str], str], None]
BATCH_SIZE = 25
# Dispatch in chunks so the seconds budget is checked while the pool stays busy.
_CHUNK = 4 * BATCH_SIZE
# A delivery this early (or more) goes back to wait; a shorter wait is slept through (SQS delays in whole seconds).
REDELAY_AFTER_SECONDS = 1.0


@dataclass(frozen=True)
class LookAhead:
    """Each tick also finds the slots due within `seconds` after its now and sends them to fire at their second.

    `holds`, where the delayed delivery can tell (the local timer queue; SQS cannot), names the triggers a
    delivery holds already: a tick neither sends them again nor dispatches them itself. Without it, a slot that
    two ticks' horizons share is sent twice, and a tick that runs while a delivery dispatches races it; the slot
    claims keep each slot to one run either way, but the loser's conflicting transactions cost the burst time.
    """

    seconds: float
    send_later: SendLater
    holds: Callable[[str], bool] | None = None

    def held(self, trigger_id: str) -> bool:
        return self.holds is not None and self.holds(trigger_id)


@dataclass
class Outcome:
    """What one due trigger did in this tick: the runs it wrote, not those an earlier tick wrote."""

    runs: Counter[str] = field(default_factory=Counter)
    dropped_slots: int = 0
    errors: int = 0


@dataclass
class TickSummary:
    due: int = 0
    queued: int = 0
    delayed: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    dropped_slots: int = 0
    errors: int = 0
    lag_seconds: float = 0.0
    duration_seconds: float = 0.0

    def add(self, outcome: Outcome) -> None:
        self.runs.update(outcome.runs)
        self.dropped_slots += outcome.dropped_slots
        self.errors += outcome.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "due": self.due,
            "queued": self.queued,
            "delayed": self.delayed,
            "runs": dict(self.runs),
            "droppedSlots": self.dropped_slots,
            "errors": self.errors,
            "lagSeconds": round(self.lag_seconds, 3),
            "durationSeconds": round(self.duration_seconds, 3),
        }


def tick(
    clock: Clock,
    new_id: IdFactory,
    pool: Executor,
    budget: int,
    send_batch: SendBatch | None = None,
    budget_seconds: float | None = None,
    look_ahead: LookAhead | None = None,
) -> TickSummary:
    """One tick at `clock()`: dispatches up to `budget` due triggers here, within `budget_seconds`;
    with `send_batch` (SQS) the rest goes out in batches for other invocations, otherwise it is done here.
    With `look_ahead`, the slots due before the next tick go out to fire at their second."""
    started, now = time.monotonic(), clock()
    horizon = now + timedelta(seconds=look_ahead.seconds) if look_ahead else now
    found = find_due(horizon, pool)
    if look_ahead is not None:
        found = [pair for pair in found if not look_ahead.held(pair[0])]
    due = [pair for pair in found if pair[1] <= to_iso(now)]
    summary = TickSummary(due=len(due))
    if look_ahead is not None:
        summary.delayed = _send_ahead(found[len(due) :], look_ahead.send_later)
    if due:
        summary.lag_seconds = (now - from_iso(due[0][1])).total_seconds()
    ids = [trigger_id for trigger_id, _ in due]
    if send_batch is not None:
        summary.queued += _queue(ids[budget:], send_batch)
        ids = ids[:budget]
    for start in range(0, len(ids), _CHUNK):
        if send_batch is not None and budget_seconds and time.monotonic() - started > budget_seconds:
            summary.queued += _queue(ids[start:], send_batch)
            break
        for outcome in dispatch_all(ids[start : start + _CHUNK], clock, new_id, pool):
            summary.add(outcome)
    summary.duration_seconds = time.monotonic() - started
    return summary


def _send_ahead(later: list[tuple[str, str]], send_later: SendLater) -> int:
    """Sends the triggers of each later slot, in batches that share it (`later` is in slot order)."""
    for slot, pairs in groupby(later, key=lambda pair: pair[1]):
        for batch in _batches([trigger_id for trigger_id, _ in pairs]):
            send_later(batch, slot)
    return len(later)


def _queue(trigger_ids: list[str], send_batch: SendBatch) -> int:
    for batch in _batches(trigger_ids):
        send_batch(batch)
    return len(trigger_ids)


def _batches(trigger_ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(trigger_ids), BATCH_SIZE):
        yield trigger_ids[start : start + BATCH_SIZE]


def find_due(until: datetime, pool: Executor) -> list[tuple[str, str]]:
    """(trigger id, nextRunAt) of every trigger due by `until`, in slot order: one query per shard of the
    sparse index, in parallel."""
    stamp = to_iso(until)
    shards = pool.map(lambda shard: routines.due_in_shard(shard, stamp), routines.all_due_shards())
    return sorted((pair for shard in shards for pair in shard), key=lambda pair: pair[1])


def dispatch_all(trigger_ids: Iterable[str], clock: Clock, new_id: IdFactory, pool: Executor) -> list[Outcome]:
    """Dispatches due triggers in parallel after one batched read of them and their routines; each trigger's
    `now` (its runs' `createdAt`) is read from `clock` when that trigger is dispatched."""
    ids = list(trigger_ids)
    due = runs.read_due(ids)
    return list(pool.map(lambda trigger_id: _dispatch_trigger(due, trigger_id, clock(), new_id), ids))


def dispatch_delivery(
    trigger_ids: list[str],
    not_before: str | None,
    clock: Clock,
    new_id: IdFactory,
    pool: Executor,
    send_later: SendLater,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Dispatches a delivered batch, never before its slot `not_before`: more than a second early, the batch is
    sent again to wait out the rest (no outcomes); less, the remainder is slept through."""
    if not_before is None:
        return dispatch_all(trigger_ids, clock, new_id, pool)
    slot = from_iso(not_before)
    early = (slot - clock()).total_seconds()
    if early > REDELAY_AFTER_SECONDS:
        send_later(trigger_ids, not_before)
        return []
    if early > 0:
        sleep(early)
    return dispatch_all(trigger_ids, lambda: max(clock(), slot), new_id, pool)


def _dispatch_trigger(due: DueReads, trigger_id: str, now: datetime, new_id: IdFactory) -> Outcome:
    """Fires the slots of one due trigger and advances it; a failure is counted, never raised."""
    outcome = Outcome()
    try:
        trigger, routine = due.get(trigger_id)
        paused = routine is not None and due.in_paused_project(routine)
        _dispatch(trigger, routine, now, new_id, outcome, paused)
    except Exception:  # whatever goes wrong with one trigger, the rest of the tick goes on
        log_exception("tick failed for trigger", triggerId=trigger_id)
        outcome.errors += 1
    return outcome


def _dispatch(
    trigger: Trigger | None, routine: Routine | None, now: datetime, new_id: IdFactory, outcome: Outcome, paused: bool
) -> None:
    # The index may be stale (eventually consistent, or behind a pause): trust only consistent reads.
    due_at = _due_at(trigger, now) if trigger else None
    if trigger is None or due_at is None:
        return
    if routine is None or routine.status != RoutineStatus.active:
        routines.unindex_if_inactive(trigger)
        return
    spec = trigger.schedule
    if spec is None:
        return
    schedule = parse_schedule(spec.cron_expression, spec.timezone)
    firing = _TriggerTick(routine, trigger, schedule, now, new_id, outcome)
    advance = Advance(due_at, iso_or_none(next_fire_after(schedule, now)))
    try:
        if paused:
            firing.count(record_paused(routine, trigger, due_at, advance, now, new_id))
            return
        verdict = _gate(routine, now)
        if verdict.opens:
            firing.fire(firing.plan(from_iso(due_at)), advance)
        else:
            firing.count(record_quiet(routine, trigger, due_at, advance, verdict, now, new_id))
    except TriggerNotActive:
        return  # paused, disabled or advanced by another tick meanwhile: the next tick re-reads


def _gate(routine: Routine, now: datetime) -> GateVerdict:
    """The activity gate's verdict for the routine's due slot: one read of its scope, only when gated."""
    if not is_gated(routine) or routine.last_dispatched_at is None:
        return gate_verdict(routine, None, to_iso(now))
    found = activity.scope_activity(routine.company_id, scope_of(routine))
    return gate_verdict(routine, found, to_iso(now))


def _due_at(trigger: Trigger, now: datetime) -> str | None:
    """The stored `nextRunAt` of an enabled schedule trigger that is due at `now`, else None."""
    due = trigger.schedule.next_run_at if trigger.schedule and trigger.enabled else None
    return due if due is not None and due <= to_iso(now) else None


@dataclass
class _TriggerTick:
    """One due trigger in one tick: its slots are recorded or fired in time order, the advance last."""

    routine: Routine
    trigger: Trigger
    schedule: Schedule
    now: datetime
    new_id: IdFactory
    outcome: Outcome

    def plan(self, due: datetime) -> list[datetime]:
        """Records the slots from `due` to now that will never fire; returns those to fire, oldest first.

        A record written by an earlier tick that then crashed holds that tick's decision: its slots
        fire as it planned them, and only the slots after its `now` are planned afresh. Planning
        again from scratch would drop, unrecorded, the slots between its plan and ours.
        """
        policy = CatchUpPolicy(self.routine.catch_up_policy)
        slots: list[datetime] = []
        while True:
            plan = plan_slots(self.schedule, due, self.now, policy)
            if plan.dropped is None:
                return [*slots, *plan.fire]
            record = record_dropped(self.routine, self.trigger, plan.dropped, self.now, self.new_id)
            if record.written:
                self.outcome.dropped_slots += plan.dropped.count
                return [*slots, *plan.fire]
            decided = plan_slots(self.schedule, due, min(from_iso(record.run.triggered_at), self.now), policy)
            slots += decided.fire
            if decided.next_run_at is None or decided.next_run_at > self.now:
                return slots
            due = decided.next_run_at

    def fire(self, slots: list[datetime], advance: Advance) -> None:
        """Fires each slot once; the last slot's transaction also advances the trigger."""
        if not slots:
            # Nothing fires: advance after the dropped-slots record, which a retry finds by its claim.
            runs.advance_trigger(self.trigger.id, advance)
            return
        for index, slot in enumerate(slots):
            if index:  # the previous slot changed the routine's open issues
                self.routine = reload_routine(self.routine.id)
            last = index == len(slots) - 1
            fired = fire_slot(
                self.routine, self.trigger, to_iso(slot), self.now, self.new_id, advance if last else None
            )
            self.count(fired)

    def count(self, fired: Fired) -> None:
        if fired.written:
            self.outcome.runs[fired.run.status] += 1


def fire_slot(
    routine: Routine,
    trigger: Trigger,
    slot: str,
    now: datetime,
    new_id: IdFactory,
    advance: Advance | None,
    backfill: bool = False,
) -> Fired:
    """The slot's run, once per slot: fired, coalesced, skipped, or `failed` with the reason it could not dispatch."""
    claims = (slot_claim(trigger.id, slot, now),)
    firing = Firing(RunSource.schedule, trigger, claims=claims, scheduled_for=slot, advance=advance, backfill=backfill)
    try:
        return start_run(routine, firing, now, new_id)
    except TriggerNotActive:
        raise
    except DomainError as error:
        return record_failure(routine, firing, error, now, new_id)


def default_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="tick")
