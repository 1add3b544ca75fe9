"""Execution issues: how agents pick work up and close the loop."""

from dataclasses import replace
from datetime import datetime

from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Issue, Principal
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import require_company
from chalicelib.services.commands import IssueQuery, UpdateIssue
from chalicelib.services.directory import get_company
from chalicelib.services.routines import check_assignable
from chalicelib.store import issues


def get_issue(principal: Principal, issue_id: str) -> Issue:
    issue = issues.get_issue(issue_id) if is_id(issue_id) else None
    if issue is None:
        raise NotFound("Issue not found")
    require_company(principal, issue.company_id)
    return issue


def list_issues(principal: Principal, company_id: str, query: IssueQuery) -> list[Issue]:
    get_company(principal, company_id)  # 404 for an unknown or malformed id, as on every company route
    return issues.list_issues(company_id, query.assignee_agent_id, query.status, query.origin_id)


def update_issue(principal: Principal, issue_id: str, command: UpdateIssue, now: datetime) -> Issue:
    """Edits an issue; closing an execution issue finishes its run and frees its routine, in one transaction."""
    read = get_issue(principal, issue_id)
    changed = replace(read, **command.changes(read), updated_at=to_iso(now))
    if principal.is_agent and read.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only update issues assigned to themselves")
    if principal.is_agent and changed.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only assign issues to themselves")
    if command.sent("assignee_agent_id") and changed.assignee_agent_id:
        check_assignable(read.company_id, changed.assignee_agent_id)
    try:
        issues.update_issue(changed, read)
    except issues.IssueChanged as exc:
        raise Conflict("Issue was updated by someone else; retry") from exc
    return changed
