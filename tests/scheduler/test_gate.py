"""The activity gate through the real tick: a gated routine's slot fires only after activity in its scope that
was not its own work since its last dispatched run; a quiet slot is a `skipped` run and the window stays open."""

from datetime import datetime, timedelta

from chalicelib import runtime
from chalicelib.domain.models import Principal, Routine, RunStatus, Trigger
from chalicelib.services import issues
from chalicelib.services.commands import AddComment, UpdateIssue
from chalicelib.store import activity
from tests.scheduler.conftest import Schedules, dispatch_one, iso, utc
from tests.support import World

HOURLY = "0 * * * *"
GATED = {"activity_gate_policy": "require_external_activity", "concurrency_policy": "always_enqueue"}


def _tick_at(trigger: Trigger, made_at: datetime, hour: int) -> None:
    dispatch_one(trigger.id, made_at + timedelta(hours=hour, seconds=20))


def _outcomes(schedules: Schedules, routine: Routine) -> list[tuple[str | None, str, str | None]]:
    return [(run.scheduled_for, run.status, run.failure_reason) for run in schedules.runs(routine)]


def _comment(world: World, agent_id: str, issue_id: str, at: datetime) -> None:
    principal = Principal.for_agent(agent_id, world.company_id)
    issues.add_comment(principal, issue_id, AddComment(body="Looked at it"), None, at, runtime.new_id)


def test_two_quiet_ticks_skip_and_a_comment_by_another_agent_opens_the_next(schedules: Schedules, world: World) -> None:
    made_at = utc(2028, 2, 1)
    routine, trigger = schedules.scheduled(HOURLY, made_at, **GATED)

    for hour in (1, 2, 3):
        _tick_at(trigger, made_at, hour)
    first_issue = schedules.runs(routine)[0].linked_issue_id
    assert first_issue is not None
    _comment(world, world.bravo_id, first_issue, made_at + timedelta(hours=3, minutes=10))
    _tick_at(trigger, made_at, 4)
    _tick_at(trigger, made_at, 5)

    slot = [iso(made_at + timedelta(hours=hour)) for hour in range(6)]
    assert _outcomes(schedules, routine) == [
        (slot[1], RunStatus.issue_created, None),
        (slot[2], RunStatus.skipped, "no_external_activity"),
        (slot[3], RunStatus.skipped, "no_external_activity"),
        (slot[4], RunStatus.issue_created, None),
        (slot[5], RunStatus.skipped, "no_external_activity"),
    ]
    quiet = schedules.runs(routine)[1]
    assert quiet.linked_issue_id is None
    assert quiet.trigger_payload == {
        "activityGate": {
            "verdict": "quiet",
            "windowStart": iso(made_at + timedelta(hours=1, seconds=20)),
            "matchedActivityId": None,
        }
    }
    assert schedules.stored(trigger).last_result == "skipped_no_activity"
    assert schedules.next_run_at(trigger) == iso(made_at + timedelta(hours=6))


def test_the_routines_own_work_on_its_execution_issue_does_not_open_the_gate(
    schedules: Schedules, world: World
) -> None:
    made_at = utc(2028, 2, 2)
    routine, trigger = schedules.scheduled(HOURLY, made_at, **GATED)
    _tick_at(trigger, made_at, 1)
    [run] = schedules.runs(routine)
    assert run.linked_issue_id is not None
    alpha = Principal.for_agent(world.alpha_id, world.company_id)
    at = made_at + timedelta(hours=1, minutes=5)
    issues.update_issue(alpha, run.linked_issue_id, UpdateIssue(status="in_review"), None, at, runtime.new_id)
    _comment(world, world.alpha_id, run.linked_issue_id, at + timedelta(minutes=1))

    _tick_at(trigger, made_at, 2)

    assert [status for _, status, _ in _outcomes(schedules, routine)] == [RunStatus.issue_created, RunStatus.skipped]


def test_another_routines_dispatch_is_activity_in_the_company(schedules: Schedules) -> None:
    made_at = utc(2028, 2, 3)
    routine, trigger = schedules.scheduled(HOURLY, made_at, **GATED)
    _, other = schedules.scheduled("30 * * * *", made_at)
    _tick_at(trigger, made_at, 1)
    dispatch_one(other.id, made_at + timedelta(hours=1, minutes=30, seconds=20))

    _tick_at(trigger, made_at, 2)
    _tick_at(trigger, made_at, 3)

    assert [status for _, status, _ in _outcomes(schedules, routine)] == [
        RunStatus.issue_created,
        RunStatus.issue_created,
        RunStatus.skipped,
    ]


def test_a_project_scoped_gate_ignores_activity_outside_its_project(schedules: Schedules, world: World) -> None:
    made_at = utc(2028, 2, 4)
    fields = {**GATED, "activity_gate_scope": "project", "project_id": world.project_id}
    routine, trigger = schedules.scheduled(HOURLY, made_at, **fields)
    outside, elsewhere = schedules.scheduled("30 * * * *", made_at)
    _tick_at(trigger, made_at, 1)
    dispatch_one(elsewhere.id, made_at + timedelta(hours=1, minutes=30, seconds=20))
    [outside_issue] = [run.linked_issue_id for run in schedules.runs(outside) if run.linked_issue_id]
    _comment(world, world.bravo_id, outside_issue, made_at + timedelta(hours=1, minutes=40))

    _tick_at(trigger, made_at, 2)
    [first, _] = schedules.runs(routine)
    assert first.linked_issue_id is not None
    _comment(world, world.bravo_id, first.linked_issue_id, made_at + timedelta(hours=2, minutes=10))
    _tick_at(trigger, made_at, 3)

    assert [status for _, status, _ in _outcomes(schedules, routine)] == [
        RunStatus.issue_created,
        RunStatus.skipped,
        RunStatus.issue_created,
    ]
    company = activity.scope_activity(world.company_id, None)
    assert company.external_at == iso(made_at + timedelta(hours=2, minutes=10))


def test_a_project_scoped_gate_without_a_project_never_opens_after_its_first_run(
    schedules: Schedules, world: World
) -> None:
    made_at = utc(2028, 2, 5)
    routine, trigger = schedules.scheduled(HOURLY, made_at, **GATED, activity_gate_scope="project")
    _tick_at(trigger, made_at, 1)
    [run] = schedules.runs(routine)
    assert run.linked_issue_id is not None
    _comment(world, world.bravo_id, run.linked_issue_id, made_at + timedelta(hours=1, minutes=10))

    _tick_at(trigger, made_at, 2)

    assert [status for _, status, _ in _outcomes(schedules, routine)] == [RunStatus.issue_created, RunStatus.skipped]


def test_an_ungated_routine_fires_every_slot_without_activity(schedules: Schedules) -> None:
    made_at = utc(2028, 2, 6)
    routine, trigger = schedules.scheduled(HOURLY, made_at, concurrency_policy="always_enqueue")
    for hour in (1, 2):
        _tick_at(trigger, made_at, hour)

    assert [status for _, status, _ in _outcomes(schedules, routine)] == [RunStatus.issue_created] * 2
