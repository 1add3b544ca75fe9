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

from chalicelib.domain.cron import parse_schedule
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import (
    Routine,
    RoutineStatus,
    Run,
    RunSource,
    Trigger,
    TriggerKind,
)
from chalicelib.domain.schedule import CatchUpPolicy, plan_slots
from chalicelib.domain.timefmt import from_iso, iso_or_none, to_iso
from chalicelib.services.runs import (
    TriggerNotActive,
    record_dropped,
    record_failure,
    slot_claim,
    start_run,
)
from chalicelib.store import routines
from chalicelib.store.runs import Advance

logger = logging.getLogger("routines.scheduler")
SendBatch = Callable[[list[str]], None]
BATCH_SIZE = 25


@dataclass
class Outcome:
    """What one due trigger did in a tick."""

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
) -> TickSummary:
    """One tick at `now`: up to `budget` due triggers here, the rest in batches to `send_batch` (SQS)."""
    started = time.monotonic()
    due = find_due(now, pool)
    summary = TickSummary(due=len(due))
    if due:
        summary.lag_seconds = (
            now - from_iso(min(next_run for _, next_run in due))
        ).total_seconds()
    ids = [trigger_id for trigger_id, _ in due]
    if send_batch is not None and len(ids) > budget:
        for start in range(budget, len(ids), BATCH_SIZE):
            send_batch(ids[start : start + BATCH_SIZE])
        summary.queued = len(ids) - budget
        ids = ids[:budget]
    for outcome in dispatch_all(ids, now, new_id, pool):
        summary.add(outcome)
    summary.duration_seconds = time.monotonic() - started
    return summary


def find_due(now: datetime, pool: Executor) -> list[tuple[str, str]]:
    """(trigger id, nextRunAt) of every due trigger: one query per shard of the sparse index, in parallel."""
    stamp = to_iso(now)
    shards = pool.map(
        lambda shard: routines.due_in_shard(shard, stamp), routines.all_due_shards()
    )
    return sorted(
        (pair for shard in shards for pair in shard), key=lambda pair: pair[1]
    )


def dispatch_all(
    trigger_ids: Iterable[str], now: datetime, new_id: IdFactory, pool: Executor
) -> list[Outcome]:
    return list(
        pool.map(lambda trigger_id: dispatch_due(trigger_id, now, new_id), trigger_ids)
    )


def dispatch_due(trigger_id: str, now: datetime, new_id: IdFactory) -> Outcome:
    """Fires the slots of one due trigger and advances it; a failure is recorded, never raised."""
    outcome = Outcome()
    try:
        _dispatch(trigger_id, now, new_id, outcome)
    except Exception:
        logger.exception("tick failed for trigger %s", trigger_id)
        outcome.errors += 1
    return outcome


def _dispatch(
    trigger_id: str, now: datetime, new_id: IdFactory, outcome: Outcome
) -> None:
    # The index may be stale (eventually consistent, or behind a pause): trust only a consistent read.
    trigger = routines.get_trigger(trigger_id)
    if trigger is None or not _is_due(trigger, now):
        return
    assert trigger.next_run_at
    routine = routines.get_routine(trigger.routine_id)
    if routine is None or routine.status != RoutineStatus.active:
        routines.set_due(trigger, routine.status if routine else RoutineStatus.archived)
        return
    schedule = parse_schedule(trigger.cron_expression or "", trigger.timezone or "UTC")
    plan = plan_slots(
        schedule,
        from_iso(trigger.next_run_at),
        now,
        CatchUpPolicy(routine.catch_up_policy),
    )
    # The last write of the plan carries the advance, so firing and advancing commit together.
    advance = Advance(trigger.next_run_at, iso_or_none(plan.next_run_at))
    try:
        if plan.dropped:
            record_dropped(
                routine,
                trigger,
                plan.dropped,
                now,
                new_id,
                None if plan.fire else advance,
            )
            outcome.dropped_slots += plan.dropped.count
        for index, slot in enumerate(plan.fire):
            if index:
                routine = _reread(
                    routine.id
                )  # the previous slot changed its open issues
            last = index == len(plan.fire) - 1
            run = _fire_slot(
                routine, trigger, to_iso(slot), now, new_id, advance if last else None
            )
            outcome.runs[run.status] += 1
    except TriggerNotActive:
        return  # paused, disabled or advanced by another tick meanwhile: the next tick re-reads


def _is_due(trigger: Trigger, now: datetime) -> bool:
    return (
        trigger.kind == TriggerKind.schedule
        and trigger.enabled
        and trigger.next_run_at is not None
        and trigger.next_run_at <= to_iso(now)
    )


def _reread(routine_id: str) -> Routine:
    routine = routines.get_routine(routine_id)
    if routine is None:
        raise TriggerNotActive("Routine not found")
    return routine


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
        return record_failure(
            routine, trigger, error, now, new_id, claim, slot, advance
        )


def default_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="tick")
