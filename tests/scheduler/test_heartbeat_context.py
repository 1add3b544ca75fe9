"""An agent working a scheduled execution issue sees which slot fired it."""

from tests.scheduler.conftest import Schedules, dispatch_one, iso, utc
from tests.support import World, json_of


def test_the_heartbeat_context_of_a_scheduled_issue_names_its_slot(world: World, schedules: Schedules) -> None:
    created = utc(2026, 3, 2, 8, 59)
    routine, trigger = schedules.scheduled("0 9 * * *", created)

    dispatch_one(trigger.id, utc(2026, 3, 2, 9, 0, 5))

    [run] = schedules.runs(routine)
    context = json_of(world.alpha.get(f"/issues/{run.linked_issue_id}/heartbeat-context"))
    assert (context["run"]["id"], context["run"]["source"]) == (run.id, "schedule")
    assert context["run"]["scheduledFor"] == iso(utc(2026, 3, 2, 9, 0))
    assert context["run"]["triggerId"] == trigger.id
