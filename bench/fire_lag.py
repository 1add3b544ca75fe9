"""7. Fire lag: how long after its slot a schedule trigger's run is written, with look-ahead and without.

Both passes run the local scheduler `routines dev` runs (`routines.local.ticker.tick_forever`: the tick at its
real period, started at an arbitrary phase, and the timer queue) on the real clock against the bench's DynamoDB
Local, after a warm-up burst. Each pass stores a burst of triggers due at the same whole minute, then single
triggers due one by one at seconds spread after it; a run's lag is its `createdAt` minus its `scheduledFor`.
"""

import math
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.dynamo import write_all
from bench.fixtures import Population, Tenant, make_tenant, population
from bench.stats import median, percentile
from chalicelib import runtime
from chalicelib.domain.timefmt import from_iso, to_iso
from chalicelib.services.scheduler import default_pool, dispatch_all, tick
from chalicelib.store import runs
from routines.local.ticker import tick_forever


@dataclass(frozen=True)
class Sizes:
    burst: int = 200
    singles: int = 20
    single_spacing_seconds: float = 3.0
    tick_seconds: float = 15.0
    burst_on_multiple_of_seconds: int = 60  # the burst's slot: a whole minute, as a cron slot is


@dataclass(frozen=True)
class Pass:
    """The lags of one pass, in seconds: the burst's runs, then each single trigger's run (None: no run)."""

    burst: list[float | None]
    singles: list[float | None]

    def figures(self) -> dict[str, Any]:
        burst = [lag for lag in self.burst if lag is not None]
        singles = [lag for lag in self.singles if lag is not None]
        return {
            "burstRuns": len(burst),
            "burstFirstSeconds": round(min(burst), 3) if burst else None,
            "burstLastSeconds": round(max(burst), 3) if burst else None,
            "burstLagsSeconds": [round(lag, 3) for lag in sorted(burst)],
            "singleRuns": len(singles),
            "singleP50Seconds": round(median(singles), 3) if singles else None,
            "singleP90Seconds": round(percentile(singles, 0.9), 3) if singles else None,
            "earliestSeconds": round(min(burst + singles), 3) if burst + singles else None,
            "runs": f"{len(burst)}, {len(singles)}",
        }


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench fire lag")
    with default_pool() as pool:
        tick(runtime.now, runtime.new_id, pool, budget=100_000)  # nothing else due now may share a pass
        _warm_up(sizes, tenant, pool)
        ahead = _pass(sizes, tenant, pool, look_ahead=True).figures()
        today = _pass(sizes, tenant, pool, look_ahead=False).figures()
    return _summary(sizes, ahead, today)


def _warm_up(sizes: Sizes, tenant: Tenant, pool: Executor) -> None:
    """A burst dispatched before either pass: a cold DynamoDB Local (a fresh JVM) would slow the first one."""
    made = population(tenant, sizes.burst, to_iso(runtime.now()))
    write_all(made.routines, pool)
    write_all(made.triggers, pool)
    dispatch_all(made.trigger_ids, runtime.now, runtime.new_id, pool)
    write_all(made.triggers, pool, delete=True)


def _pass(sizes: Sizes, tenant: Tenant, pool: Executor, look_ahead: bool) -> Pass:
    """Stores the pass's triggers, runs the local scheduler until their slots are past, and reads their lags."""
    burst_at = _round_up(runtime.now() + timedelta(seconds=sizes.tick_seconds + 3), sizes.burst_on_multiple_of_seconds)
    burst = population(tenant, sizes.burst, to_iso(burst_at))
    singles = [
        population(tenant, 1, to_iso(burst_at + timedelta(seconds=(2 + index) * sizes.single_spacing_seconds)))
        for index in range(sizes.singles)
    ]
    stored = [burst, *singles]
    write_all([routine for made in stored for routine in made.routines], pool)  # one table per call
    write_all([trigger for made in stored for trigger in made.triggers], pool)
    last_slot = from_iso(singles[-1].triggers[0].nextRunAt) if singles else burst_at
    stop = threading.Event()
    loop = threading.Thread(
        target=tick_forever, args=(stop, sizes.tick_seconds, runtime.now, runtime.new_id, look_ahead), daemon=True
    )
    loop.start()
    try:
        # One more tick after the last slot, and a third of a period for its runs to be written.
        _wait_until(last_slot + timedelta(seconds=sizes.tick_seconds * 4 / 3))
    finally:
        stop.set()
        loop.join()
    write_all([trigger for made in stored for trigger in made.triggers], pool, delete=True)
    return Pass(_lags(burst, pool), [lag for made in singles for lag in _lags(made, pool)])


def _round_up(moment: datetime, seconds: int) -> datetime:
    """The first instant at or after `moment` that is a whole multiple of `seconds` since the epoch."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / seconds) * seconds, UTC)


def _wait_until(moment: datetime) -> None:
    while (left := (moment - runtime.now()).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def _lags(made: Population, pool: Executor) -> list[float | None]:
    """Each routine's run: createdAt - scheduledFor, in seconds (None unless it has exactly one run)."""

    def lag(routine_id: str) -> float | None:
        found = runs.list_runs(routine_id, 10)
        if len(found) != 1 or found[0].scheduled_for is None:
            return None
        return (from_iso(found[0].created_at) - from_iso(found[0].scheduled_for)).total_seconds()

    return list(pool.map(lag, [routine.id for routine in made.routines]))


def _summary(sizes: Sizes, ahead: dict[str, Any], today: dict[str, Any]) -> dict[str, Any]:
    def within(figure: str, limit: float) -> bool:
        value = ahead[figure]
        return value is not None and value <= limit

    complete = ahead["burstRuns"] == today["burstRuns"] == sizes.burst
    complete = complete and ahead["singleRuns"] == today["singleRuns"] == sizes.singles
    return {
        "benchmark": "fire_lag",
        "tickSeconds": sizes.tick_seconds,
        "burst": sizes.burst,
        "singles": sizes.singles,
        "singleSpacingSeconds": sizes.single_spacing_seconds,
        "lookAhead": ahead,
        "withoutLookAhead": today,
        "singleP50Ratio": _ratio(today["singleP50Seconds"], ahead["singleP50Seconds"]),
        "burstLastRatio": _ratio(today["burstLastSeconds"], ahead["burstLastSeconds"]),
        "targets": {
            "burstFirst<=1s": within("burstFirstSeconds", 1.0),
            "burstLast<=3s": within("burstLastSeconds", 3.0),
            "singleP50<=1s": within("singleP50Seconds", 1.0),
            "neverEarly": (ahead["earliestSeconds"] or 0) >= 0,
            "everySlotFiredOnce": complete,
        },
    }


def _ratio(without: float | None, ahead: float | None) -> float | None:
    """How many times longer slots wait without look-ahead (None when a figure is missing or zero)."""
    return round(without / ahead, 1) if without is not None and ahead else None
