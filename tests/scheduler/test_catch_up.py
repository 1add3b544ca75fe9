"""Catch-up through the real tick: which missed slots fire, which are recorded as dropped, where nextRunAt goes."""

from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import ConcurrencyPolicy, RunSource, RunStatus
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import default_pool, tick
from tests.scheduler.conftest import Schedules, iso, utc

ENQUEUE = CatchUpPolicy.enqueue_missed_with_cap
SKIP = CatchUpPolicy.skip_missed


def slots(first: datetime, count: int, step: timedelta = timedelta(hours=1)) -> list[str]:
    return [iso(first + step * n) for n in range(count)]


def run_tick(now: datetime) -> None:
    with default_pool() as pool:
        tick(frozen_at(now), runtime.new_id, pool, budget=100_000)


@pytest.mark.parametrize(
    ("cron", "policy", "due", "now", "fired", "dropped", "next_run_at"),
    [
        pytest.param("0 * * * *", ENQUEUE, utc(2026, 1, 5), utc(2026, 1, 5, 2, 30),
                     slots(utc(2026, 1, 5), 3), None, utc(2026, 1, 5, 3), id="hourly 2.5 h late: 3 runs"),
        pytest.param("0 * * * *", ENQUEUE, utc(2026, 1, 5), utc(2026, 1, 6, 16),
                     slots(utc(2026, 1, 5, 16), 25),
                     {"count": 16, "first": iso(utc(2026, 1, 5)), "last": iso(utc(2026, 1, 5, 15))},
                     utc(2026, 1, 6, 17), id="hourly 40 h late: the 25 latest fire, 16 dropped"),
        pytest.param("0 * * * *", SKIP, utc(2026, 1, 5, 4), utc(2026, 1, 5, 9, 0, 30),
                     [iso(utc(2026, 1, 5, 9))],
                     {"count": 5, "first": iso(utc(2026, 1, 5, 4)), "last": iso(utc(2026, 1, 5, 8))},
                     utc(2026, 1, 5, 10), id="skip 5 h late: the recent slot fires, 5 dropped"),
        pytest.param("*/5 * * * *", SKIP, utc(2026, 1, 5, 10), utc(2026, 1, 5, 12, 1),
                     [iso(utc(2026, 1, 5, 12))],
                     {"count": 24, "first": iso(utc(2026, 1, 5, 10)), "last": iso(utc(2026, 1, 5, 11, 55))},
                     utc(2026, 1, 5, 12, 5), id="every 5 min, skip, 2 h late: one run, no burst"),
        pytest.param("*/5 * * * *", SKIP, utc(2026, 1, 5, 10), utc(2026, 1, 5, 12, 9, 59),
                     [iso(utc(2026, 1, 5, 12, 5))],
                     {"count": 25, "first": iso(utc(2026, 1, 5, 10)), "last": iso(utc(2026, 1, 5, 12))},
                     utc(2026, 1, 5, 12, 10), id="every 5 min, skip, late in the slot: still one run"),
        pytest.param("0 * * * *", SKIP, utc(2026, 1, 5, 4), utc(2026, 1, 5, 9, 30),
                     [],
                     {"count": 6, "first": iso(utc(2026, 1, 5, 4)), "last": iso(utc(2026, 1, 5, 9))},
                     utc(2026, 1, 5, 10), id="skip, latest slot past the grace: nothing fires"),
        pytest.param("0 * * * *", ENQUEUE, utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 0, 40),
                     [iso(utc(2026, 1, 5, 9))], None, utc(2026, 1, 5, 10), id="on time: one run"),
    ],
)  # fmt: skip
def test_a_late_tick_fires_and_drops_slots_by_the_catch_up_policy(
    schedules: Schedules,
    cron: str,
    policy: CatchUpPolicy,
    due: datetime,
    now: datetime,
    fired: list[str],
    dropped: dict[str, object] | None,
    next_run_at: datetime,
) -> None:
    routine, trigger = schedules.scheduled(
        cron, due - timedelta(minutes=1), catch_up_policy=policy, concurrency_policy=ConcurrencyPolicy.always_enqueue
    )
    assert schedules.next_run_at(trigger) == iso(due)

    run_tick(now)

    history = schedules.runs(routine)
    records = [run for run in history if run.failure_reason == "missed"]
    issued = [run for run in history if run.failure_reason != "missed"]
    assert [run.scheduled_for for run in issued] == fired
    assert {run.status for run in issued} <= {RunStatus.issue_created}
    assert all(run.source == RunSource.schedule and run.trigger_id == trigger.id for run in history)
    if dropped is None:
        assert records == []
    else:
        [record] = records
        assert record.status == RunStatus.skipped
        assert record.dropped_slots == dropped
        assert record.scheduled_for == dropped["first"]
        assert record.linked_issue_id is None and record.completed_at == iso(now)
    assert schedules.next_run_at(trigger) == iso(next_run_at)


@pytest.mark.parametrize(
    ("policy", "statuses", "issues"),
    [
        (ConcurrencyPolicy.coalesce_if_active, [RunStatus.issue_created, RunStatus.coalesced, RunStatus.coalesced], 1),
        (ConcurrencyPolicy.skip_if_active, [RunStatus.issue_created, RunStatus.skipped, RunStatus.skipped], 1),
        (ConcurrencyPolicy.always_enqueue, [RunStatus.issue_created] * 3, 3),
    ],
)
def test_each_missed_slot_meets_the_concurrency_policy(
    schedules: Schedules, policy: ConcurrencyPolicy, statuses: list[RunStatus], issues: int
) -> None:
    routine, _ = schedules.scheduled(
        "0 * * * *", utc(2026, 1, 7, 23, 59), catch_up_policy=ENQUEUE, concurrency_policy=policy
    )

    run_tick(utc(2026, 1, 8, 2, 30))

    history = schedules.runs(routine)
    assert [run.status for run in history] == statuses
    assert [run.scheduled_for for run in history] == slots(utc(2026, 1, 8), 3)
    assert len({run.linked_issue_id for run in history}) == issues
    first = history[0]
    assert all(run.coalesced_into_run_id == first.id for run in history[1:] if issues == 1)
