"""Cron schedules read in an IANA timezone, evaluated by cronsim under our DST rule.

DST rule. An expression whose hour field has a `*` or a `/` (`0 * * * *`, `*/15 * * * *`,
`0 */2 * * *`) follows real time: every real instant whose wall clock matches fires, so
an hourly job fires on both 01:00s of a fall-back night and skips the missing hour of a
spring-forward night. Any other expression names wall-clock times: a time that occurs
twice fires once, at its first occurrence, and a time that does not exist fires once,
at the first instant after the gap. cronsim alone decides by the minute field too, so
`*/15 1 * * *` would fire twice on fall-back nights and `*/15 2 * * *` not at all on
spring-forward nights; we iterate its naive wall clock and map times to instants here.
"""

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from chalicelib.domain.errors import Invalid

DEFAULT_TIMEZONE = "UTC"
_HORIZON = timedelta(days=5 * 366)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
# Every kind of year (leap or not, starting on any weekday) occurs in 2000-2027, so an
# expression that cronsim's 50-year search cannot place after this date never fires.
_PROBE = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Schedule:
    """A valid 5-field cron expression and the IANA timezone its fields are read in."""

    expression: str
    timezone: str


# The tick parses every due trigger's stored expression, and most triggers share a few expressions:
# validating one costs as much as finding its next fire time (bench/RESULTS.md, cron), so keep the answers.
@functools.lru_cache(maxsize=4096)
def parse_schedule(expression: str, timezone: str) -> Schedule:
    """Validate an expression and a timezone (empty means UTC), or raise `Invalid`."""
    zone = _valid_timezone(timezone)
    fields = _five_fields(expression)
    _check_fires(fields)
    return Schedule(" ".join(fields), zone)


def next_fire_after(schedule: Schedule, after: datetime) -> datetime | None:
    """The first fire time strictly after aware `after`, in UTC; None if none in ~5 years."""
    fire = next(_fires(schedule, after), None)
    if fire is None or fire - after > _HORIZON:
        return None
    return fire


def fire_times(schedule: Schedule, after: datetime, until: datetime) -> Iterator[datetime]:
    """The fire times s with after < s <= until, in UTC, oldest first."""
    return itertools.takewhile(lambda fire: fire <= until, _fires(schedule, after))


def count_fire_times(schedule: Schedule, after: datetime, until: datetime) -> int:
    """How many fire times s have after < s <= until, without visiting each one."""
    zone = _zone(schedule.timezone)
    count, cursor = 0, after
    while (fire := next_fire_after(schedule, cursor)) is not None and fire <= until:
        start, end = _local_day(fire, zone)
        if cursor < start and end - _MINUTE <= until and end - start == _DAY:
            # On a whole day without a clock change every (hour, minute) pair fires once.
            count += _fires_per_day(schedule.expression)
            cursor = end - _MINUTE
        else:
            count += 1
            cursor = fire
    return count


@dataclass(frozen=True)
class FireTime:
    """A fire time in UTC and on the trigger's wall clock, with how the DST rule placed it."""

    utc: datetime
    local: datetime
    moved_by_gap: bool = False
    first_of_repeat: bool = False


def preview(schedule: Schedule, after: datetime, count: int) -> list[FireTime]:
    """The first `count` fire times strictly after aware `after`, as the tick fires them, each within ~5 years
    of the one before."""
    zone = _zone(schedule.timezone)
    times: list[FireTime] = []
    for fire, wall in itertools.islice(_placed(schedule, after), count):
        if fire - (times[-1].utc if times else after) > _HORIZON:
            break  # as `next_fire_after` from the previous time, which the tick calls, finds none
        times.append(_fire_time(fire, wall, zone))
    return times


def _fire_time(fire: datetime, wall: datetime | None, zone: ZoneInfo) -> FireTime:
    """`wall` is the wall-clock time a fixed-time expression named, None for one that follows real time."""
    local = fire.astimezone(zone)
    if wall is None:
        return FireTime(fire, local)
    moved = local.replace(tzinfo=None) != wall
    repeated = not moved and wall.replace(tzinfo=zone, fold=1).utcoffset() != local.utcoffset()
    return FireTime(fire, local, moved_by_gap=moved, first_of_repeat=repeated)


def describe(schedule: Schedule) -> str:
    """The expression in English, e.g. "At 09:00 on Monday"."""
    return CronSim(schedule.expression, _PROBE).explain()


def _valid_timezone(name: str) -> str:
    name = name.strip() or DEFAULT_TIMEZONE
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Invalid timezone: {name}") from None
    return name


def _five_fields(expression: str) -> list[str]:
    fields = expression.split()
    if not fields:
        raise Invalid("Cron expression must not be empty")
    if fields[0].startswith("@"):
        raise Invalid(f'Cron macros such as "{fields[0]}" are not supported: use 5 fields')
    if len(fields) != 5:
        text = " ".join(fields)
        raise Invalid(f'Cron expression must have exactly 5 fields, got {len(fields)}: "{text}"')
    return fields


def _check_fires(fields: list[str]) -> None:
    try:
        next(CronSim(" ".join(fields), _PROBE))
    except CronSimError as exc:
        if _day_and_month_parse_apart(fields):
            # cronsim reports a day no listed month has (`0 0 30 2 *`) as a bad day.
            raise _never_fires(fields) from exc
        raise Invalid(f"Invalid cron expression: {exc}") from exc
    except StopIteration:
        raise _never_fires(fields) from None


def _day_and_month_parse_apart(fields: list[str]) -> bool:
    day_alone = [*fields[:3], "*", fields[4]]
    month_alone = [*fields[:2], "*", *fields[3:]]
    return _parses(day_alone) and _parses(month_alone)


def _parses(fields: list[str]) -> bool:
    try:
        CronSim(" ".join(fields), _PROBE)
    except CronSimError:
        return False
    return True


def _never_fires(fields: list[str]) -> Invalid:
    return Invalid(f'Cron expression never fires: "{" ".join(fields)}"')


def _fires(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, in UTC, each once and in order."""
    return (fire for fire, _ in _placed(schedule, after))


def _placed(schedule: Schedule, after: datetime) -> Iterator[tuple[datetime, datetime | None]]:
    """Each fire time strictly after `after`, once and in order, with the wall-clock time that placed it."""
    last = after
    for fire, wall in _candidates(schedule, after):
        # Wall-clock times in a gap share one instant; a repeated hour maps back in time.
        if fire > last:
            last = fire
            yield fire, wall


def _candidates(schedule: Schedule, after: datetime) -> Iterator[tuple[datetime, datetime | None]]:
    zone = _zone(schedule.timezone)
    local = after.astimezone(zone)
    if _follows_real_time(schedule.expression):
        # cronsim's fixed-time DST handling applies to 5-field expressions only.
        sim = CronSim(f"0 {schedule.expression}", local)
        return ((fire.astimezone(UTC), None) for fire in sim)
    sim = CronSim(schedule.expression, local.replace(tzinfo=None))
    return ((_first_instant_at(wall, zone), wall) for wall in sim)


def _follows_real_time(expression: str) -> bool:
    hour = expression.split()[1]
    return "*" in hour or "/" in hour


def _first_instant_at(wall: datetime, zone: ZoneInfo) -> datetime:
    """When the clock first shows `wall`; the end of the gap if it never does."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    while instant.astimezone(zone).replace(tzinfo=None) != wall:
        wall += _MINUTE
        instant = wall.replace(tzinfo=zone).astimezone(UTC)
    return instant


def _local_day(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    day = instant.astimezone(zone).date()
    return _midnight(day, zone), _midnight(day + _DAY, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


@functools.cache
def _fires_per_day(expression: str) -> int:
    sim = CronSim(expression, _PROBE)
    return len(sim.hours) * len(sim.minutes)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
