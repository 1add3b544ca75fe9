from datetime import UTC, datetime

import pytest

from chalicelib.domain.cron import (
    Schedule,
    count_fire_times,
    describe,
    fire_times,
    next_fire_after,
    parse_schedule,
    preview,
)
from chalicelib.domain.errors import Invalid
from tests.moments import utc

NEW_YORK = "America/New_York"
AMSTERDAM = "Europe/Amsterdam"


def fires_between(expression: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    return list(fire_times(parse_schedule(expression, tz), after, until))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "Cron expression must not be empty"),
        ("   ", "Cron expression must not be empty"),
        ("0 9 * *", 'Cron expression must have exactly 5 fields, got 4: "0 9 * *"'),
        (
            "0 0 9 * * 1",
            'Cron expression must have exactly 5 fields, got 6: "0 0 9 * * 1"',
        ),
        ("@daily", 'Cron macros such as "@daily" are not supported: use 5 fields'),
        ("61 * * * *", "Invalid cron expression: Bad minute"),
        ("0 24 * * *", "Invalid cron expression: Bad hour"),
        ("0 0 32 * *", "Invalid cron expression: Bad day-of-month"),
        ("0 0 ? * *", "Invalid cron expression: Bad day-of-month"),
        ("0 0 30 FOO *", "Invalid cron expression: Bad month"),
        ("0 9 * * 8", "Invalid cron expression: Bad day-of-week"),
        ("0 0 30 2 *", 'Cron expression never fires: "0 0 30 2 *"'),
        ("0 0 31 4 *", 'Cron expression never fires: "0 0 31 4 *"'),
        ("0 0 */3 2 MON#5", 'Cron expression never fires: "0 0 */3 2 MON#5"'),
    ],
)
def test_invalid_expression_is_rejected_with_its_reason(expression: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule(expression, "UTC")
    assert caught.value.message == message


@pytest.mark.parametrize("tz", ["Mars/Olympus", "Europe/Atlantis", "../etc/passwd", "/etc/localtime"])
def test_unknown_timezone_is_rejected(tz: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_schedule("0 9 * * *", tz)
    assert caught.value.message == f"Invalid timezone: {tz}"


def test_empty_timezone_means_utc() -> None:
    assert parse_schedule("0 9 * * *", "") == Schedule("0 9 * * *", "UTC")


def test_parsed_expression_has_single_spaces() -> None:
    assert parse_schedule("  0   9 * *\t1 ", AMSTERDAM) == Schedule("0 9 * * 1", AMSTERDAM)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 0 * * *", utc(2026, 5, 5, 10), utc(2026, 5, 6)),
        ("0 0 * * *", utc(2026, 5, 6), utc(2026, 5, 7)),
        ("*/5 * * * *", utc(2026, 5, 5, 10, 2, 30, 999), utc(2026, 5, 5, 10, 5)),
        ("0 0 1 1 *", utc(2026, 6, 1), utc(2027, 1, 1)),
        ("59 23 31 12 *", utc(2026, 12, 31, 23, 59), utc(2027, 12, 31, 23, 59)),
        ("0 9 * * MON", utc(2026, 5, 5), utc(2026, 5, 11, 9)),
        ("0 9 * * mon-fri", utc(2026, 5, 8, 10), utc(2026, 5, 11, 9)),
        ("0 9 * JAN,JUL *", utc(2026, 1, 31, 10), utc(2026, 7, 1, 9)),
        ("0 9 L * *", utc(2026, 2, 1), utc(2026, 2, 28, 9)),
        ("0 9 * * 5L", utc(2026, 5, 1, 10), utc(2026, 5, 29, 9)),
        ("0 9 * * MON#2", utc(2026, 5, 1), utc(2026, 5, 11, 9)),
        ("0 9 LW * *", utc(2026, 5, 1), utc(2026, 5, 29, 9)),
        ("0 0 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29)),
    ],
)
def test_next_fire_is_the_first_match_strictly_after(expression: str, after: datetime, expected: datetime) -> None:
    assert next_fire_after(parse_schedule(expression, "UTC"), after) == expected


def test_day_of_month_and_day_of_week_combine_with_or() -> None:
    # 2026-06-29 and 2026-07-06 are Mondays; 2026-07-01 is a Wednesday.
    fires = fires_between("0 9 1 * 1", "UTC", utc(2026, 6, 28), utc(2026, 7, 6, 9))
    assert fires == [utc(2026, 6, 29, 9), utc(2026, 7, 1, 9), utc(2026, 7, 6, 9)]


def test_fixed_time_follows_the_utc_offset_of_the_season() -> None:
    fires = [
        next_fire_after(parse_schedule("0 9 * * *", AMSTERDAM), utc(2026, 1, 10)),
        next_fire_after(parse_schedule("0 9 * * *", AMSTERDAM), utc(2026, 7, 10)),
    ]
    assert fires == [utc(2026, 1, 10, 8), utc(2026, 7, 10, 7)]


def test_next_fire_is_utc_and_whole_minutes() -> None:
    fire = next_fire_after(parse_schedule("*/5 * * * *", NEW_YORK), utc(2026, 5, 5, 10, 2, 7, 5))
    assert fire == utc(2026, 5, 5, 10, 5)
    assert fire is not None and fire.tzinfo is UTC


def test_next_fire_more_than_five_years_away_is_none() -> None:
    # The next fifth Monday of a February is 2044-02-29.
    assert next_fire_after(parse_schedule("0 0 * 2 MON#5", "UTC"), utc(2026, 1, 1)) is None


CLOCK_CHANGES = {
    "a nonexistent local time fires once after the gap": [
        ("30 2 * * *", NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12), [
            utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30),
        ]),
        ("*/15 2 * * *", NEW_YORK, utc(2026, 3, 8), utc(2026, 3, 8, 12), [
            utc(2026, 3, 8, 7),
        ]),
        ("30 2 * * *", AMSTERDAM, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12), [
            utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30),
        ]),
        ("0 2 * * *", AMSTERDAM, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12), [
            utc(2026, 3, 29, 1),
        ]),
    ],
    "a repeated local time fires once at its first occurrence": [
        ("30 1 * * *", NEW_YORK, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12), [
            utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30),
        ]),
        ("*/20 1 * * *", NEW_YORK, utc(2026, 11, 1), utc(2026, 11, 1, 12), [
            utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 20), utc(2026, 11, 1, 5, 40),
        ]),
        ("30 2 * * *", AMSTERDAM, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12), [
            utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30),
        ]),
    ],
    "a wildcard hour follows real time": [
        ("0 * * * *", NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8), [
            utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7), utc(2026, 11, 1, 8),
        ]),
        ("0 * * * *", AMSTERDAM, utc(2026, 10, 24, 23), utc(2026, 10, 25, 2), [
            utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2),
        ]),
        ("0 * * * *", NEW_YORK, utc(2026, 3, 8, 5), utc(2026, 3, 8, 8), [
            utc(2026, 3, 8, 6), utc(2026, 3, 8, 7), utc(2026, 3, 8, 8),
        ]),
        ("0 * * * *", AMSTERDAM, utc(2026, 3, 28, 23), utc(2026, 3, 29, 2), [
            utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2),
        ]),
        ("0 */2 * * *", NEW_YORK, utc(2026, 11, 1, 3), utc(2026, 11, 1, 9), [
            utc(2026, 11, 1, 4), utc(2026, 11, 1, 7), utc(2026, 11, 1, 9),
        ]),
        ("0 1-23/2 * * *", NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8), [
            utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 8),
        ]),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "tz", "after", "until", "expected"),
    [
        pytest.param(*case, id=f"{rule}: {case[0]} in {case[1]} from {case[2]:%Y-%m-%d %H:%M}")
        for rule, cases in CLOCK_CHANGES.items()
        for case in cases
    ],
)
def test_fire_times_across_a_clock_change_follow_the_dst_rule(
    expression: str, tz: str, after: datetime, until: datetime, expected: list[datetime]
) -> None:
    assert fires_between(expression, tz, after, until) == expected


def test_repeated_local_time_does_not_fire_again_when_asked_during_the_repeat() -> None:
    # 06:10Z is 01:10 EST, inside the second 01:00-02:00 of the night.
    fire = next_fire_after(parse_schedule("30 1 * * *", NEW_YORK), utc(2026, 11, 1, 6, 10))
    assert fire == utc(2026, 11, 2, 6, 30)


def test_every_fifteen_minutes_fires_every_real_quarter_hour_on_fall_back_night() -> None:
    fires = fires_between("*/15 * * * *", NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 1, 7))
    assert len(fires) == 12
    assert fires[0] == utc(2026, 11, 1, 4, 15)


@pytest.mark.parametrize(
    ("expression", "tz"),
    [
        ("* * * * *", AMSTERDAM),
        ("*/7 * * * *", NEW_YORK),
        ("0 9 * * 1", AMSTERDAM),
        ("30 2 * * *", NEW_YORK),
        ("*/15 1,2 * * *", NEW_YORK),
        ("0 * 1,15,L * *", AMSTERDAM),
    ],
)
def test_count_matches_the_fire_times_across_clock_changes(expression: str, tz: str) -> None:
    schedule = parse_schedule(expression, tz)
    for after, until in [
        (utc(2026, 2, 20, 13, 7), utc(2026, 4, 2, 9, 30)),
        (utc(2026, 10, 20), utc(2026, 11, 5, 23, 59)),
    ]:
        expected = len(list(fire_times(schedule, after, until)))
        assert count_fire_times(schedule, after, until) == expected


def test_describe_says_the_expression_in_english() -> None:
    schedule = parse_schedule("0 9 1 * 1", "UTC")
    assert describe(schedule) == "At 09:00 on the first day of month and on Monday"


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("30 2 * * *", utc(2026, 3, 28, 12), [(utc(2026, 3, 29, 1), "2026-03-29T03:00:00+02:00", True, False)]),
        ("30 2 * * *", utc(2026, 10, 24, 12), [(utc(2026, 10, 25, 0, 30), "2026-10-25T02:30:00+02:00", False, True)]),
        ("0 3 * * *", utc(2026, 3, 28, 12), [(utc(2026, 3, 29, 1), "2026-03-29T03:00:00+02:00", False, False)]),
        ("0 * * * *", utc(2026, 10, 25, 0, 30), [(utc(2026, 10, 25, 1), "2026-10-25T02:00:00+01:00", False, False)]),
    ],
)  # fmt: skip
def test_preview_marks_a_time_moved_by_a_gap_or_chosen_among_repeats(
    expression: str, after: datetime, expected: list[tuple[datetime, str, bool, bool]]
) -> None:
    times = preview(parse_schedule(expression, AMSTERDAM), after, len(expected))

    assert [(time.utc, time.local.isoformat(), time.moved_by_gap, time.first_of_repeat) for time in times] == expected


def test_preview_lists_each_time_the_tick_would_find_after_the_one_before() -> None:
    schedule = parse_schedule("0 0 29 2 *", "UTC")

    times = [time.utc for time in preview(schedule, utc(2026, 1, 1), 3)]

    assert times == [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]
    assert times[1] == next_fire_after(schedule, times[0])


def test_preview_stops_where_no_time_follows_within_five_years() -> None:
    assert preview(parse_schedule("0 0 * 2 MON#5", "UTC"), utc(2026, 1, 1), 5) == []
