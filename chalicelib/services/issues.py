"""Execution issues: how agents pick work up and close the loop."""

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Issue, Principal
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import require_company
from chalicelib.services.routines import check_assignable
from chalicelib.store import issues

_COLUMNS = {
    "title": "title",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "assignee_agent_id": "assigneeAgentId",
    "project_id": "projectId",
    "goal_id": "goalId",
}


def get_issue(principal: Principal, issue_id: str) -> Issue:
    issue = issues.get_issue(issue_id) if is_id(issue_id) else None
    if issue is None:
        raise NotFound("Issue not found")
    require_company(principal, issue.company_id)
    return issue


def list_issues(principal: Principal, company_id: str, filters: dict[str, str | None]) -> list[Issue]:
    require_company(principal, company_id)
    return issues.list_issues(
        company_id,
        filters.get("assignee_agent_id"),
        filters.get("status"),
        filters.get("origin_id"),
    )


def update_issue(principal: Principal, issue_id: str, fields: dict[str, Any], now: datetime) -> Issue:
    """Edits an issue; closing an execution issue finishes its run and frees its routine, in one transaction."""
    read = get_issue(principal, issue_id)
    if principal.is_agent and read.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only update issues assigned to themselves")
    if principal.is_agent and fields.get("assignee_agent_id", read.assignee_agent_id) != principal.agent_id:
        raise Forbidden("Agents can only assign issues to themselves")
    if fields.get("assignee_agent_id"):
        check_assignable(read.company_id, fields["assignee_agent_id"])
    changed = replace(read, **fields, updated_at=to_iso(now))
    columns = {_COLUMNS[name]: _stored(getattr(changed, name)) for name in fields}
    columns["updatedAt"] = changed.updated_at
    try:
        issues.update_issue(changed, columns, read)
    except issues.IssueChanged as exc:
        raise Conflict("Issue was updated by someone else; retry") from exc
    return changed


def _stored(value: object) -> object:
    return str(value) if value is not None else None
