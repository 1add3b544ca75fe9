"""The tick: find due schedule triggers, fire each slot exactly once, then advance.

Dispatch-then-advance with a claim per slot: overlapping ticks, a retried invocation or a crash
between the two steps can neither lose a slot nor fire it twice.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.cron import Schedule, next_fire_after, parse_schedule
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import (
    Routine,
    RoutineStatus,
    Run,
    RunSource,
    Trigger,
)
from chalicelib.domain.schedule import CatchUpPolicy, plan_slots
from chalicelib.domain.timefmt import from_iso, iso_or_none, to_iso
from chalicelib.services.runs import (
    TriggerNotActive,
    record_dropped,
    record_failure,
    reload_routine,
    slot_claim,
    start_run,
)
from chalicelib.store import routines, runs
from chalicelib.store.runs import Advance

logger = logging.getLogger("routines.scheduler")
SendBatch = Callable[[list[str]], None]
BATCH_SIZE = 25
# Dispatch in chunks so the seconds budget is checked while the pool stays busy.
_CHUNK = 4 * BATCH_SIZE


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
            "runs": dict(self.runs),
            "droppedSlots": self.dropped_slots,
            "errors": self.errors,
            "lagSeconds": round(self.lag_seconds, 3),
            "durationSeconds": round(self.duration_seconds, 3),
        }


def tick(
    now: datetime,
    new_id: IdFactory,
    pool: Executor,
    budget: int,
    send_batch: SendBatch | None = None,
    budget_seconds: float | None = None,
) -> TickSummary:
    """One tick at `now`: dispatches up to `budget` due triggers here, within `budget_seconds`;
    with `send_batch` (SQS) the rest goes out in batches for other invocations, otherwise it is done here."""
    started = time.monotonic()
    due = find_due(now, pool)
    summary = TickSummary(due=len(due))
    if due:
        summary.lag_seconds = (now - from_iso(min(next_run for _, next_run in due))).total_seconds()
    ids = [trigger_id for trigger_id, _ in due]
    if send_batch is not None:
        summary.queued += _queue(ids[budget:], send_batch)
        ids = ids[:budget]
    for start in range(0, len(ids), _CHUNK):
        if send_batch is not None and budget_seconds and time.monotonic() - started > budget_seconds:
            summary.queued += _queue(ids[start:], send_batch)
            break
        for outcome in dispatch_all(ids[start : start + _CHUNK], now, new_id, pool):
            summary.add(outcome)
    summary.duration_seconds = time.monotonic() - started
    return summary


def _queue(trigger_ids: list[str], send_batch: SendBatch) -> int:
    for start in range(0, len(trigger_ids), BATCH_SIZE):
        send_batch(trigger_ids[start : start + BATCH_SIZE])
    return len(trigger_ids)


def find_due(now: datetime, pool: Executor) -> list[tuple[str, str]]:
    """(trigger id, nextRunAt) of every due trigger: one query per shard of the sparse index, in parallel."""
    stamp = to_iso(now)
    shards = pool.map(lambda shard: routines.due_in_shard(shard, stamp), routines.all_due_shards())
    return sorted((pair for shard in shards for pair in shard), key=lambda pair: pair[1])


def dispatch_all(trigger_ids: Iterable[str], now: datetime, new_id: IdFactory, pool: Executor) -> list[Outcome]:
    """Dispatches due triggers in parallel, reading them and then their routines in consistent batches
    (two requests per hundred triggers instead of two per trigger)."""
    ids = list(trigger_ids)
    try:
        triggers = routines.get_triggers(ids)
        owners = routines.get_routines({trigger.routine_id for trigger in triggers.values()})
    except Exception:
        logger.exception("batch read failed; dispatching %d triggers one by one", len(ids))
        return list(pool.map(lambda trigger_id: dispatch_due(trigger_id, now, new_id), ids))

    def dispatch(trigger_id: str) -> Outcome:
        trigger = triggers.get(trigger_id)
        routine = owners.get(trigger.routine_id) if trigger else None
        return _guarded(trigger_id, lambda outcome: _dispatch(trigger, routine, now, new_id, outcome))

    return list(pool.map(dispatch, ids))


def dispatch_due(trigger_id: str, now: datetime, new_id: IdFactory) -> Outcome:
    """Fires the slots of one due trigger and advances it; a failure is recorded, never raised."""

    def dispatch(outcome: Outcome) -> None:
        trigger = routines.get_trigger(trigger_id)
        routine = routines.get_routine(trigger.routine_id) if trigger else None
        _dispatch(trigger, routine, now, new_id, outcome)

    return _guarded(trigger_id, dispatch)


def _guarded(trigger_id: str, dispatch: Callable[[Outcome], None]) -> Outcome:
    outcome = Outcome()
    try:
        dispatch(outcome)
    except Exception:
        logger.exception("tick failed for trigger %s", trigger_id)
        outcome.errors += 1
    return outcome


def _dispatch(
    trigger: Trigger | None, routine: Routine | None, now: datetime, new_id: IdFactory, outcome: Outcome
) -> None:
    # The index may be stale (eventually consistent, or behind a pause): trust only consistent reads.
    due = _due_at(trigger, now) if trigger else None
    if trigger is None or due is None:
        return
    if routine is None or routine.status != RoutineStatus.active:
        routines.unindex_if_inactive(trigger)
        return
    spec = trigger.schedule
    schedule = parse_schedule(spec.cron_expression, spec.timezone) if spec else None
    if schedule is None:
        return
    firing = _Firing(routine, trigger, schedule, now, _Minted(new_id), outcome)
    advance = Advance(due, iso_or_none(next_fire_after(schedule, now)))
    try:
        firing.fire(firing.plan(from_iso(due)), advance)
    except TriggerNotActive:
        return  # paused, disabled or advanced by another tick meanwhile: the next tick re-reads


class _Minted:
    """An id factory that remembers its ids: a run with another id was written by an earlier tick."""

    def __init__(self, new_id: IdFactory) -> None:
        self._new_id = new_id
        self.ids: set[str] = set()

    def __call__(self) -> str:
        made = self._new_id()
        self.ids.add(made)
        return made


@dataclass
class _Firing:
    """One due trigger in one tick: its slots are recorded or fired in time order, the advance last."""

    routine: Routine
    trigger: Trigger
    schedule: Schedule
    now: datetime
    new_id: _Minted
    outcome: Outcome

    def plan(self, due: datetime) -> list[datetime]:
        """Records the slots from `due` to now that will never fire; returns those to fire, oldest first.

        A record written by an earlier tick that then crashed holds that tick's decision: its slots
        fire as it planned them, and only the slots after its `now` are planned afresh. Planning
        again from scratch would drop, unrecorded, the slots between its plan and ours.
        """
        policy = CatchUpPolicy(self.routine.catch_up_policy)
        plan = plan_slots(self.schedule, due, self.now, policy)
        if plan.dropped is None:
            return list(plan.fire)
        record = record_dropped(self.routine, self.trigger, plan.dropped, self.now, self.new_id, None)
        if record.id in self.new_id.ids:
            self.outcome.dropped_slots += plan.dropped.count
            return list(plan.fire)
        decided_at = min(from_iso(record.triggered_at), self.now)
        decided = plan_slots(self.schedule, due, decided_at, policy)
        rest = decided.next_run_at
        if rest is None or rest > self.now:
            return list(decided.fire)
        return [*decided.fire, *self.plan(rest)]

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
            run = _fire_slot(
                self.routine,
                self.trigger,
                to_iso(slot),
                self.now,
                self.new_id,
                advance if last else None,
            )
            if run.id in self.new_id.ids:
                self.outcome.runs[run.status] += 1


def _due_at(trigger: Trigger, now: datetime) -> str | None:
    """The trigger's stored `nextRunAt`, if it is an enabled schedule due at `now`."""
    due = trigger.schedule.next_run_at if trigger.schedule and trigger.enabled else None
    return due if due is not None and due <= to_iso(now) else None


def _fire_slot(
    routine: Routine,
    trigger: Trigger,
    slot: str,
    now: datetime,
    new_id: IdFactory,
    advance: Advance | None,
) -> Run:
    """The slot's run: fired, coalesced, skipped, or `failed` with the reason it could not dispatch."""
    claim = slot_claim(trigger.id, slot, now)
    try:
        return start_run(
            routine,
            RunSource.schedule,
            now,
            new_id,
            trigger=trigger,
            claims=(claim,),
            scheduled_for=slot,
            advance=advance,
        )
    except TriggerNotActive:
        raise
    except DomainError as error:
        return record_failure(routine, trigger, error, now, new_id, claim, slot, advance)


def default_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="tick")
