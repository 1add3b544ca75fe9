"""1. Tick cost vs stored triggers: the same 100 due triggers among 1,000, 10,000 and 50,000 stored.

The find step's instant and the full tick's instant are months apart, so each sees only its own due
triggers; every other trigger is stored with `nextRunAt` in 2095, in the same shards of the `due` index.
All of it lies in the 2090s, out of the way of any tick at today's date on the same database.
"""

import random
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.database import cpu_seconds
from bench.dynamo import Meter, Tally, write_all
from bench.fixtures import Tenant, future_triggers, make_tenant, population, trigger_item
from bench.stats import median, ratio, timed
from chalicelib import runtime
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import default_pool, find_due, tick
from chalicelib.store.tables import TriggerItem

FIND_AT = datetime(2091, 6, 1, 0, 0, 30, tzinfo=UTC)
FIND_DUE_AT = "2091-06-01T00:00:00.000Z"
TICK_AT = datetime(2091, 1, 1, 0, 0, 30, tzinfo=UTC)
TICK_DUE_AT = "2091-01-01T00:00:00.000Z"  # the tick advances these to 2092: never due for the find step
_WARMUP_BLOCK = 40
_MIN_WARMUP_BLOCKS = 8  # DynamoDB Local took ~300 find steps to settle in a trial on this machine


@dataclass(frozen=True)
class Sizes:
    stored: tuple[int, ...] = (1_000, 10_000, 50_000)
    due: int = 100
    find_reps: int = 40
    tick_reps: int = 3
    warmup: int = 1_200  # at most, in find steps; it stops when they stop getting faster


Find = tuple[float, Tally, int]  # seconds, what DynamoDB reported, due triggers found
Tick = tuple[float, Tally, int]  # seconds, what DynamoDB reported, runs created


@dataclass
class Point:
    """Every sample taken at one size, over both passes."""

    stored: int
    finds: list[Find] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    cpu_per_find: list[float] = field(default_factory=list)  # one figure per pass

    @property
    def find_seconds(self) -> float:
        return median([seconds for seconds, _, _ in self.finds])

    @property
    def tick_seconds(self) -> float:
        return median([seconds for seconds, _, _ in self.ticks])

    @property
    def find_tally(self) -> Tally:
        """What DynamoDB reported for one find step (the same at every sample)."""
        return self.finds[-1][1]

    @property
    def tick_tally(self) -> Tally:
        return self.ticks[-1][1]


def run(sizes: Sizes) -> dict[str, Any]:
    """Up and back down (1k, 10k, 50k, 10k, 1k): DynamoDB Local keeps warming up for minutes, and a drift that is
    linear in time cancels out of each size's median over the two passes."""
    tenant = make_tenant("Bench tick cost")
    ascending = sorted(sizes.stored)
    passes = [*ascending, *ascending[-2::-1]]
    due = [trigger_item(runtime.new_id(), tenant.company_id, FIND_DUE_AT) for _ in range(sizes.due)]
    items = due + future_triggers(ascending[-1] - sizes.due, tenant.company_id, random.Random(6))
    points = {size: Point(size) for size in ascending}
    pass_times = []
    with default_pool() as pool:
        stored = sizes.due
        write_all(items[:stored], pool)
        _warm_up(sizes, tenant, pool)
        for target in passes:
            _resize(items, stored, target, pool)
            stored = target
            cpu = cpu_seconds()
            finds = [_find(pool) for _ in range(sizes.find_reps)]
            points[target].cpu_per_find.append((cpu_seconds() - cpu) / sizes.find_reps)
            points[target].finds += finds
            points[target].ticks += [_full_tick(sizes.due, tenant, pool) for _ in range(sizes.tick_reps)]
            pass_times.append(median([seconds for seconds, _, _ in finds]))
        write_all(items[:stored], pool, delete=True)
    result = _summary([points[size] for size in ascending], sizes)
    result["passes"] = passes
    result["findTimeByPassVsFirst"] = [ratio(seconds, pass_times[0]) for seconds in pass_times]
    return result


def _resize(items: list[TriggerItem], stored: int, target: int, pool: Executor) -> None:
    if target > stored:
        write_all(items[stored:target], pool)
    else:
        write_all(items[target:stored], pool, delete=True)


def _warm_up(sizes: Sizes, tenant: Tenant, pool: Executor) -> None:
    """Runs find steps until they stop getting faster: DynamoDB Local's JIT takes hundreds of them to settle."""
    for _ in range(2):
        _full_tick(sizes.due, tenant, pool)
    best = float("inf")
    for block in range(sizes.warmup // _WARMUP_BLOCK):
        seconds = median([_find(pool)[0] for _ in range(_WARMUP_BLOCK)])
        if seconds > 0.95 * best and block >= _MIN_WARMUP_BLOCKS:
            return
        best = min(best, seconds)


def _find(pool: Executor) -> Find:
    found: list[tuple[str, str]] = []
    with Meter() as meter:
        seconds = timed(lambda: found.extend(find_due(FIND_AT, pool)))
    return seconds, meter.tally, len(found)


def _full_tick(due: int, tenant: Tenant, pool: Executor) -> Tick:
    """One tick over a fresh copy of the due work (new routines and triggers), removed afterwards."""
    fresh = population(tenant, due, TICK_DUE_AT)
    write_all(fresh.routines, pool)
    write_all(fresh.triggers, pool)
    summaries = []
    with Meter() as meter:
        seconds = timed(lambda: summaries.append(tick(frozen_at(TICK_AT), runtime.new_id, pool, budget=10 * due)))
    write_all(fresh.triggers, pool, delete=True)
    return seconds, meter.tally, summaries[0].runs["issue_created"]


def _summary(points: list[Point], sizes: Sizes) -> dict[str, Any]:
    first, last = points[0], points[-1]
    reads_ratio = ratio(last.find_tally.items_read or 1, first.find_tally.items_read or 1)
    find_time_ratio = ratio(last.find_seconds, first.find_seconds)
    cpu = [median(point.cpu_per_find) for point in points]
    return {
        "benchmark": "tick_cost",
        "due": sizes.due,
        "stored": [point.stored for point in points],
        "dueFound": [point.finds[-1][2] for point in points],
        "findItemsRead": [point.find_tally.items_read for point in points],
        "findItemsScanned": [point.find_tally.items_scanned for point in points],
        "findReadUnits": [point.find_tally.read_units for point in points],
        "findQueries": [point.find_tally.requests["Query"] for point in points],
        "findTimeVsSmallest": [ratio(point.find_seconds, first.find_seconds) for point in points],
        "findCpuVsSmallest": [ratio(seconds, cpu[0]) if cpu[0] else None for seconds in cpu],
        "tickTimeVsSmallest": [ratio(point.tick_seconds, first.tick_seconds) for point in points],
        "tickRunsCreated": [point.ticks[-1][2] for point in points],
        "tickRequests": [point.tick_tally.total for point in points],
        "tickRequestsPerDueTrigger": ratio(last.tick_tally.total, sizes.due),
        "tickRequestsByOperation": dict(sorted(last.tick_tally.requests.items())),
        "readsPerDueTrigger": ratio(last.find_tally.items_read, sizes.due),
        "readUnitsPerDueTrigger": ratio(last.find_tally.read_units, sizes.due),
        "readsRatio": reads_ratio,
        "timeRatio": find_time_ratio,
        "tickTimeRatio": ratio(last.tick_seconds, first.tick_seconds),
        "targets": {"readsRatio<=1.1": reads_ratio <= 1.1, "timeRatio<=1.2": find_time_ratio <= 1.2},
        "findSeconds": [round(point.find_seconds, 4) for point in points],
        "tickSeconds": [round(point.tick_seconds, 3) for point in points],
    }
