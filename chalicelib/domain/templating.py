"""What a firing would create: the execution issue's content, from the routine, the firing's values and now."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Routine
from chalicelib.domain.variables import (
    builtin_values,
    fingerprint,
    interpolate,
    merge_payload,
    provided_values,
    resolve,
)


@dataclass(frozen=True)
class Content:
    """The issue a firing would create, and how it is recognised among the routine's open issues.

    `key` is None when the content is the routine's own (nothing filled in, nothing overridden): such a
    firing coalesces as it always did. Otherwise it is the fingerprint, and only the same content coalesces.
    """

    title: str
    description: str | None
    assignee_agent_id: str
    project_id: str | None
    trigger_payload: Any
    fingerprint: str
    key: str | None


def plan_content(
    routine: Routine,
    payload: Any,
    explicit: Mapping[str, Any] | None,
    from_webhook: bool,
    overrides: tuple[str, str | None],
    now: datetime,
) -> Content:
    """Resolves the variables (422 on a bad or missing value), fills the templates, and fingerprints the result.

    `overrides` is the assignee and project the issue gets (the routine's, or the run's).
    """
    resolved = resolve(routine.variables, provided_values(from_webhook, payload, explicit)) if routine.variables else {}
    values = {**builtin_values(now), **resolved}
    title = interpolate(routine.title, values) or routine.title
    description = interpolate(routine.description, values) if routine.description is not None else None
    assignee, project = overrides
    wire = {"title": title, "description": description, "assigneeAgentId": assignee, "projectId": project}
    printed = fingerprint(wire)
    own = (title, description, assignee, project) == (
        routine.title,
        routine.description,
        routine.assignee_agent_id,
        routine.project_id,
    )
    return Content(
        title, description, assignee, project, merge_payload(payload, resolved), printed, None if own else printed
    )
