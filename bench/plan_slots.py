"""How long planning a year-long outage of an every-minute schedule takes: it must not visit each slot.

Run: .venv/bin/python bench/plan_slots.py (the timing moved here from tests/unit/test_schedule.py).
"""

import time
from datetime import UTC, datetime

from chalicelib.domain.cron import parse_schedule
from chalicelib.domain.schedule import CatchUpPolicy, plan_slots


def main() -> None:
    schedule = parse_schedule("* * * * *", "Europe/Amsterdam")
    due, now = datetime(2025, 6, 1, 0, 3, tzinfo=UTC), datetime(2026, 6, 1, 0, 0, 30, tzinfo=UTC)
    started = time.perf_counter()
    plan = plan_slots(schedule, due, now, CatchUpPolicy.enqueue_missed_with_cap)
    elapsed = time.perf_counter() - started
    slots = len(plan.fire) + (plan.dropped.count if plan.dropped else 0)
    print(f"{slots} slots planned in {elapsed * 1000:.1f} ms (target: under 1000 ms)")


if __name__ == "__main__":
    main()
