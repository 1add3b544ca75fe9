"""Revision snapshots: a routine's fields and triggers as Paperclip's `buildRoutineRevisionSnapshot` writes
them (version 1), and how a restore reads them back. Pure."""

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from chalicelib.domain.models import (
    ActivityGatePolicy,
    ActivityGateScope,
    ConcurrencyPolicy,
    Priority,
    Routine,
    RoutineStatus,
    Trigger,
)
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.signing import SigningMode
from chalicelib.domain.variables import variable_json, variable_of

SNAPSHOT_VERSION = 1
CREATED = "Created routine"
UPDATED = "Updated routine"
ROTATED = "Rotated webhook trigger secret"
ALREADY_LATEST = "Selected revision is already the latest revision"
UPDATED_ELSEWHERE = "Routine was updated by someone else"


def created_trigger(kind: str) -> str:
    return f"Created {kind} trigger"


def updated_trigger(kind: str) -> str:
    return f"Updated {kind} trigger"


def deleted_trigger(kind: str) -> str:
    return f"Deleted {kind} trigger"


def restored_from(number: int) -> str:
    return f"Restored from revision {number}"


def snapshot_of(routine: Routine, triggers: Iterable[Trigger]) -> dict[str, Any]:
    """`{version, routine, triggers}`: the 17 routine fields and each trigger, by creation then id."""
    ordered = sorted(triggers, key=lambda trigger: (trigger.created_at, trigger.id))
    return {
        "version": SNAPSHOT_VERSION,
        "routine": routine_member(routine),
        "triggers": [trigger_member(trigger) for trigger in ordered],
    }


def routine_member(routine: Routine) -> dict[str, Any]:
    """What a revision records of the routine; `folderId` is not in it, so a folder move is no revision."""
    return {
        "id": routine.id,
        "companyId": routine.company_id,
        "projectId": routine.project_id,
        "goalId": routine.goal_id,
        "parentIssueId": routine.parent_issue_id,
        "title": routine.title,
        "description": routine.description,
        "assigneeAgentId": routine.assignee_agent_id,
        "priority": routine.priority.value,
        "status": routine.status.value,
        "concurrencyPolicy": routine.concurrency_policy.value,
        "catchUpPolicy": routine.catch_up_policy.value,
        "activityGatePolicy": routine.activity_gate_policy.value,
        "activityGateScope": routine.activity_gate_scope.value,
        "variables": [variable_json(variable) for variable in routine.variables],
        "env": routine.env,
        "responsibleUserId": None,
    }


def trigger_member(trigger: Trigger) -> dict[str, Any]:
    """A trigger as a revision records it: never its secret, next run or last result."""
    schedule, webhook = trigger.schedule, trigger.webhook
    return {
        "id": trigger.id,
        "kind": trigger.kind.value,
        "label": trigger.label,
        "enabled": trigger.enabled,
        "cronExpression": schedule.cron_expression if schedule else None,
        "timezone": schedule.timezone if schedule else None,
        "publicId": webhook.public_id if webhook else None,
        "signingMode": webhook.signing_mode.value if webhook else None,
        "replayWindowSec": webhook.replay_window_sec if webhook else None,
    }


def same_routine(before: Routine, after: Routine) -> bool:
    """Whether a change leaves every recorded field as it was (deep equality, not key order)."""
    return routine_member(before) == routine_member(after)


def restored_routine(routine: Routine, snapshot: Mapping[str, Any]) -> Routine:
    """The routine with the snapshot's fields; its folder (and what no revision records) stays."""
    member = snapshot["routine"]
    return replace(
        routine,
        project_id=member.get("projectId"),
        goal_id=member.get("goalId"),
        parent_issue_id=member.get("parentIssueId"),
        title=member["title"],
        description=member.get("description"),
        assignee_agent_id=member.get("assigneeAgentId"),
        priority=Priority(member["priority"]),
        status=RoutineStatus(member["status"]),
        concurrency_policy=ConcurrencyPolicy(member["concurrencyPolicy"]),
        catch_up_policy=CatchUpPolicy(member["catchUpPolicy"]),
        activity_gate_policy=ActivityGatePolicy(member.get("activityGatePolicy", ActivityGatePolicy.always)),
        activity_gate_scope=ActivityGateScope(member.get("activityGateScope", ActivityGateScope.company)),
        variables=tuple(variable_of(data) for data in member.get("variables") or ()),
        env=member.get("env"),
    )


def restored_trigger(base: Trigger, member: Mapping[str, Any]) -> Trigger:
    """`base` (the trigger as it is, or a fresh one with the member's id) with the member's settings.

    A webhook keeps `base`'s public id and secret; a schedule's next run is for the caller to compute.
    """
    trigger = replace(base, label=member.get("label"), enabled=bool(member.get("enabled", True)))
    if trigger.schedule and member.get("cronExpression") and member.get("timezone"):
        schedule = replace(trigger.schedule, cron_expression=member["cronExpression"], timezone=member["timezone"])
        trigger = replace(trigger, schedule=schedule)
    if trigger.webhook:
        mode = SigningMode(member.get("signingMode") or trigger.webhook.signing_mode)
        window = member.get("replayWindowSec") or trigger.webhook.replay_window_sec
        trigger = replace(trigger, webhook=replace(trigger.webhook, signing_mode=mode, replay_window_sec=window))
    return trigger


def snapshot_trigger_ids(snapshot: Mapping[str, Any]) -> list[str]:
    return [member["id"] for member in snapshot.get("triggers", ())]
