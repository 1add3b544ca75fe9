"""An issue's status rules: what a status change stamps and unlocks, and how its origin run follows."""

from dataclasses import replace
from enum import Enum

from chalicelib.domain.models import Issue, IssueStatus

CHECKOUT_STATUSES = frozenset(status for status in IssueStatus if status.is_open)
"""Checkout never reopens a closed issue: reopening goes through PATCH, which moves the run back too."""
FAILING = frozenset({IssueStatus.blocked, IssueStatus.cancelled})


class RunFollows(Enum):
    """What an execution issue's status change does to the run that created it."""

    stays = "stays"
    completes = "completes"
    fails = "fails"
    reverts = "reverts"


def apply_status(before: Issue, after: Issue, now: str) -> Issue:
    """`after` with the timestamps and locks of its status: `in_progress` starts, `done` completes,
    `cancelled` cancels; leaving `in_progress`, or another assignee, drops the checkout."""
    if after.status == before.status and after.assignee_agent_id == before.assignee_agent_id:
        return after
    unlocked = after.status != IssueStatus.in_progress or after.assignee_agent_id != before.assignee_agent_id
    return replace(
        after,
        started_at=now
        if after.status == IssueStatus.in_progress and before.status != after.status
        else after.started_at,
        completed_at=(after.completed_at or now) if after.status == IssueStatus.done else None,
        cancelled_at=(after.cancelled_at or now) if after.status == IssueStatus.cancelled else None,
        checkout_run_id=None if unlocked else after.checkout_run_id,
        execution_run_id=None if unlocked else after.execution_run_id,
    )


def run_follows(was: IssueStatus, now: IssueStatus) -> RunFollows:
    """`done` completes the run, `blocked` and `cancelled` fail it (a marked, reversible failure), and any
    other status reached from those reverts it to `issue_created`."""
    if now == was:
        return RunFollows.stays
    if now == IssueStatus.done:
        return RunFollows.completes
    if now in FAILING:
        return RunFollows.fails
    return RunFollows.reverts if was == IssueStatus.done or was in FAILING else RunFollows.stays


def failure_reason(status: IssueStatus) -> str:
    """The run's failureReason for a failing status; the prefix marks the failure as reversible."""
    return f"Execution issue moved to {status}"
