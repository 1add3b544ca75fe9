"""3. Requests per dispatch: DynamoDB requests in the common path of a manual run and of a scheduled firing."""

import statistics
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.dynamo import Meter, Tally, write_all
from bench.fixtures import make_tenant, population
from chalicelib import runtime
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.commands import RunRoutine
from chalicelib.services.routines import load_routine
from chalicelib.services.runs import run_routine
from chalicelib.services.scheduler import default_pool, dispatch_all

FIRE_AT = datetime(2097, 1, 1, 0, 0, 30, tzinfo=UTC)
DUE_AT = "2097-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Sizes:
    runs: int = 60  # three blocks of the issue-number allocator (it reserves 20 numbers per request)


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench requests")
    by_hand, by_schedule = population(tenant, sizes.runs, DUE_AT), population(tenant, sizes.runs, DUE_AT)
    with ThreadPoolExecutor(8) as pool:
        for items in (by_hand.routines, by_schedule.routines, by_schedule.triggers):
            write_all(items, pool)
    manual = [_metered(lambda r=routine.id: _manual_run(r, tenant.agent)) for routine in by_hand.routines]
    scheduled = [_metered(lambda t=trigger_id: _scheduled(t)) for trigger_id in by_schedule.trigger_ids]
    manual_common = _common(manual)
    scheduled_common = _common(scheduled)
    return {
        "benchmark": "requests_per_dispatch",
        "runs": sizes.runs,
        "startRunCommonPath": manual_common,
        "startRunMean": _mean(manual),
        "startRunByOperation": _by_operation(manual),
        "scheduledCommonPath": scheduled_common,
        "scheduledMean": _mean(scheduled),
        "scheduledByOperation": _by_operation(scheduled),
        "targets": {"startRun<=2": manual_common <= 2},
    }


def _manual_run(routine_id: str, principal: Any) -> None:
    """What the run view does after authentication: read the routine, then `start_run` through `run_routine`."""
    run = run_routine(principal, load_routine(routine_id), RunRoutine(), FIRE_AT, runtime.new_id)
    assert run.status == "issue_created", run.status


def _scheduled(trigger_id: str) -> None:
    """The tick's work for one due trigger found by the find step."""
    with default_pool() as pool:
        [outcome] = dispatch_all([trigger_id], frozen_at(FIRE_AT), runtime.new_id, pool)
    assert outcome.runs["issue_created"] == 1, outcome


def _metered(work: Callable[[], None]) -> Tally:
    with Meter() as meter:
        work()
    return meter.tally


def _common(tallies: list[Tally]) -> int:
    """The request count most firings need."""
    return statistics.mode(tally.total for tally in tallies)


def _mean(tallies: list[Tally]) -> float:
    return round(statistics.fmean(tally.total for tally in tallies), 3)


def _by_operation(tallies: list[Tally]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for tally in tallies:
        total.update(tally.requests)
    return {operation: round(count / len(tallies), 3) for operation, count in sorted(total.items())}
