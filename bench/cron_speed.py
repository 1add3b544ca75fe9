"""4. Cron: the next fire time for a mix of triggers, ours (cronsim under our DST rule) against croniter.

Each side does what a tick does per trigger: read the stored expression and timezone, then compute the
next fire time after a moment. Calls alternate between the two libraries, trigger by trigger, and are
timed in thread CPU time: on a shared machine a wall clock also counts the time other processes ran.
"""

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from bench.stats import median, ratio
from chalicelib.domain.cron import next_fire_after, parse_schedule

EXPRESSIONS = {
    "common": ("0 9 * * 1", "*/5 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * *", "15 10 * * 1-5"),
    "stepped": ("*/15 9-17 * * 1-5", "0 */2 * * *", "5-55/10 * * * *", "0 8-18/3 * * MON-FRI"),
    "sparse": ("0 0 29 2 1", "0 0 29 2 *", "0 12 31 * *", "0 0 1 1 *", "0 6 13 * 5"),
}
TIMEZONES = ("UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "Asia/Tokyo")
_START = datetime(2026, 1, 1, tzinfo=UTC)
_KINDS = ("ours", "croniter", "oursUncached")
_validate = parse_schedule.__wrapped__  # parse_schedule without its cache of validated expressions


@dataclass(frozen=True)
class Sizes:
    triggers: int = 10_000
    reps: int = 3


def run(sizes: Sizes) -> dict[str, Any]:
    mix = _mix(sizes.triggers)
    reps = [_rep(mix) for _ in range(sizes.reps)]
    ours = median([_total(rep["ours"]) for rep in reps])
    uncached = median([_total(rep["oursUncached"]) for rep in reps])
    theirs = median([_total(rep["croniter"]) for rep in reps])
    slowest = _slowest(reps)
    speedup = ratio(theirs, ours)
    return {
        "benchmark": "cron_next_fire",
        "triggers": len(mix),
        "expressions": sum(len(group) for group in EXPRESSIONS.values()),
        "timezones": len(TIMEZONES),
        "speedupVsCroniter": speedup,
        "speedupWithoutParseCache": ratio(theirs, uncached),
        "sameAnswer": ratio(sum(_agrees(*trigger) for trigger in mix), len(mix)),
        "slowestExpression": slowest[0],
        "slowestExpressionMedianMs": round(slowest[1] * 1000, 3),
        "maxSingleCallMs": round(max(max(map(max, rep["ours"].values())) for rep in reps) * 1000, 3),
        "targets": {"speedup>=3": speedup >= 3, "slowestExpression<=1ms": slowest[1] <= 0.001},
    }


Trigger = tuple[str, str, datetime]


def _mix(count: int) -> list[Trigger]:
    """Triggers spread over every expression and timezone, at moments across a year (DST changes included)."""
    rng = random.Random(4)
    expressions = [expression for group in EXPRESSIONS.values() for expression in group]
    return [
        (
            expressions[index % len(expressions)],
            TIMEZONES[index // len(expressions) % len(TIMEZONES)],
            _START + timedelta(seconds=rng.randrange(366 * 86_400)),
        )
        for index in range(count)
    ]


def _rep(mix: list[Trigger]) -> dict[str, dict[tuple[str, str], list[float]]]:
    """Seconds per call, by library and by (expression, timezone); "oursUncached" validates every time."""
    seconds: dict[str, dict[tuple[str, str], list[float]]] = {kind: defaultdict(list) for kind in _KINDS}
    clock = time.thread_time
    for expression, timezone, after in mix:
        key = expression, timezone
        started = clock()
        next_fire_after(parse_schedule(expression, timezone), after)
        ours = clock()
        croniter(expression, after.astimezone(ZoneInfo(timezone))).get_next(datetime)
        theirs = clock()
        next_fire_after(_validate(expression, timezone), after)
        seconds["oursUncached"][key].append(clock() - theirs)
        seconds["croniter"][key].append(theirs - ours)
        seconds["ours"][key].append(ours - started)
    return seconds


def _total(calls: dict[tuple[str, str], list[float]]) -> float:
    return sum(sum(seconds) for seconds in calls.values())


def _slowest(reps: list[dict[str, dict[tuple[str, str], list[float]]]]) -> tuple[str, float]:
    """Our slowest (expression, timezone) by its median call time."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rep in reps:
        for key, calls in rep["ours"].items():
            times[key] += calls
    (expression, timezone), calls = max(times.items(), key=lambda item: median(item[1]))
    return f"{expression} ({timezone})", median(calls)


def _agrees(expression: str, timezone: str, after: datetime) -> bool:
    ours = next_fire_after(parse_schedule(expression, timezone), after)
    theirs = croniter(expression, after.astimezone(ZoneInfo(timezone))).get_next(datetime)
    return ours == theirs
