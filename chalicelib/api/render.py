"""Domain values as API JSON: camelCase fields, secrets never included."""

from dataclasses import fields
from typing import Any

from pydantic.alias_generators import to_camel

from chalicelib.domain.models import Issue, Routine, Run, Trigger, TriggerKind
from chalicelib.services.routines import RoutineDetail
from chalicelib.services.triggers import SecretMaterial, webhook_url

Json = dict[str, Any]


def camel(value: Any, drop: tuple[str, ...] = ()) -> Json:
    return {to_camel(f.name): getattr(value, f.name) for f in fields(value) if f.name not in drop}


def routine(value: Routine) -> Json:
    return {**camel(value, drop=("open_issues", "version")), "variables": []}


def trigger(value: Trigger, base_url: str) -> Json:
    body = camel(value, drop=("secret",))
    if value.kind == TriggerKind.webhook and value.public_id:
        body["webhookUrl"] = webhook_url(base_url, value.public_id)
    return body


def trigger_summary(value: Trigger) -> Json:
    keys = (
        "id",
        "kind",
        "label",
        "enabled",
        "cronExpression",
        "timezone",
        "nextRunAt",
        "lastFiredAt",
        "lastResult",
    )
    return {key: item for key, item in camel(value).items() if key in keys}


def run(value: Run) -> Json:
    body = camel(value)
    if body["droppedSlots"] is None:
        del body["droppedSlots"]
    return body


def issue(value: Issue) -> Json:
    body = camel(value, drop=("parent_id",))
    body["parentId"] = value.parent_id
    return body


def issue_summary(value: Issue | None) -> Json | None:
    if value is None:
        return None
    keys = ("id", "identifier", "title", "status", "priority", "updatedAt")
    return {key: item for key, item in camel(value).items() if key in keys}


def detail(value: RoutineDetail, base_url: str) -> Json:
    return {
        **routine(value.routine),
        "triggers": [trigger(t, base_url) for t in value.triggers],
        "recentRuns": [run(r) for r in value.recent_runs],
        "activeIssue": issue_summary(value.active_issue),
    }


def list_item(value: RoutineDetail) -> Json:
    return {
        **routine(value.routine),
        "triggers": [trigger_summary(t) for t in value.triggers],
        "lastRun": run(value.recent_runs[0]) if value.recent_runs else None,
        "activeIssue": issue_summary(value.active_issue),
    }


def secret_material(value: SecretMaterial | None) -> Json | None:
    return camel(value) if value else None
