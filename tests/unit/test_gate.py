"""The activity gate as a table: the window, the routine's own work, the scope, and who made an activity."""

from dataclasses import replace

import pytest

from chalicelib.domain.gate import ScopeActivity, activity_on, gate_verdict
from chalicelib.domain.models import (
    ROUTINE_EXECUTION,
    ActivityGatePolicy,
    ActivityGateScope,
    CatchUpPolicy,
    ConcurrencyPolicy,
    Issue,
    Priority,
    Routine,
    RoutineStatus,
)
from tests.unit.test_wakes import ISSUE

T0, T1, T2, T3 = (f"2028-01-01T0{hour}:00:00.000Z" for hour in range(4))
NOW = T3
ME, OTHER = "routine-me", "routine-other"


def routine(
    last_dispatched_at: str | None = T1,
    policy: ActivityGatePolicy = ActivityGatePolicy.require_external_activity,
    scope: ActivityGateScope = ActivityGateScope.company,
    project_id: str | None = "project",
) -> Routine:
    return Routine(
        id=ME,
        company_id="acme",
        title="Gated",
        description=None,
        assignee_agent_id="alpha",
        project_id=project_id,
        goal_id=None,
        parent_issue_id=None,
        priority=Priority.medium,
        status=RoutineStatus.active,
        concurrency_policy=ConcurrencyPolicy.always_enqueue,
        catch_up_policy=CatchUpPolicy.skip_missed,
        created_at=T0,
        updated_at=T0,
        last_dispatched_at=last_dispatched_at,
        activity_gate_policy=policy,
        activity_gate_scope=scope,
    )


@pytest.mark.parametrize(
    ("gated", "activity", "opens"),
    [
        (routine(policy=ActivityGatePolicy.always), None, True),
        (routine(last_dispatched_at=None), None, True),
        (routine(), None, False),
        (routine(), ScopeActivity(), False),
        (routine(), ScopeActivity(T2, None, T2), True),
        (routine(), ScopeActivity(T0, None, T0), False),
        (routine(), ScopeActivity(T1, None, T1), False),
        (routine(), ScopeActivity(T2, OTHER, None), True),
        (routine(), ScopeActivity(T2, ME, None), False),
        (routine(), ScopeActivity(T2, ME, T1), False),
        (routine(), ScopeActivity(T2, ME, T2), True),
        (routine(), ScopeActivity("2028-01-01T05:00:00.000Z", None, "2028-01-01T05:00:00.000Z"), False),
        (routine(scope=ActivityGateScope.project, project_id=None), ScopeActivity(T2, None, T2), False),
        (routine(scope=ActivityGateScope.project, project_id=None, last_dispatched_at=None), None, True),
    ],
)
def test_a_gated_slot_fires_after_activity_that_was_not_its_own_work_since_its_last_dispatch(
    gated: Routine, activity: ScopeActivity | None, opens: bool
) -> None:
    assert gate_verdict(gated, activity, NOW).opens is opens


def issue(origin_kind: str | None, assignee: str | None) -> Issue:
    """The wake tests' issue, in a project, made by this routine (or by none) and assigned as given."""
    origin_id = ME if origin_kind else None
    return replace(
        ISSUE, origin_kind=origin_kind, origin_id=origin_id, assignee_agent_id=assignee, project_id="project"
    )


@pytest.mark.parametrize(
    ("touched", "actor", "origin"),
    [
        (issue(ROUTINE_EXECUTION, "alpha"), "alpha", ME),
        (issue(ROUTINE_EXECUTION, "alpha"), "bravo", None),
        (issue(ROUTINE_EXECUTION, "alpha"), None, None),
        (issue(ROUTINE_EXECUTION, None), "alpha", None),
        (issue(None, "alpha"), "alpha", None),
    ],
)
def test_only_the_executing_agents_work_on_a_routines_issue_is_that_routines_own(
    touched: Issue, actor: str | None, origin: str | None
) -> None:
    made = activity_on(touched, actor, T2)
    assert (made.company_id, made.project_id, made.at, made.origin_routine_id) == (
        ISSUE.company_id,
        "project",
        T2,
        origin,
    )
