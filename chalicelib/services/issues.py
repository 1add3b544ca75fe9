"""Execution issues: how agents find, check out, work and close them, as Paperclip's heartbeat does."""

import re
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from chalicelib.domain.gate import activity_on
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import (
    AuthorType,
    Goal,
    Issue,
    IssueComment,
    IssueStatus,
    Principal,
    Priority,
    Project,
    Routine,
    Run,
    Wake,
)
from chalicelib.domain.queries import CommentQuery, IssueQuery
from chalicelib.domain.timefmt import to_iso
from chalicelib.domain.workflow import CHECKOUT_STATUSES, apply_status, run_follows
from chalicelib.services.auth import require_agent, require_company
from chalicelib.services.commands import AddComment, CheckoutIssue, UpdateIssue
from chalicelib.services.directory import get_company
from chalicelib.services.references import check_assignable
from chalicelib.store import directory, issues, routines, runs, wakes
from chalicelib.store.pages import Page

_IDENTIFIER = re.compile(r"^[A-Z][A-Z0-9]*-[0-9]+$")
INBOX_STATUSES = frozenset({IssueStatus.todo, IssueStatus.in_progress, IssueStatus.blocked})
INBOX_LIMIT = 500
_PRIORITY_RANK = {priority: rank for rank, priority in enumerate(Priority)}


@dataclass(frozen=True)
class HeartbeatContext:
    """What an agent needs to work an issue: where it comes from, and where its comments stand."""

    issue: Issue
    project: Project | None
    goal: Goal | None
    routine: Routine | None
    run: Run | None
    total_comments: int
    latest_comment: IssueComment | None
    wake_comment: IssueComment | None


def run_id_of(header: str | None) -> str | None:
    """The `X-Paperclip-Run-Id` a write sent, if any: the run that checkouts and comments record."""
    if header is None or not header.strip():
        return None
    if not is_id(header.strip().lower()):
        raise BadRequest("X-Paperclip-Run-Id must be a UUID")
    return header.strip().lower()


def get_issue(principal: Principal, issue_ref: str) -> Issue:
    """The issue with this id or identifier (`DEMO-12`, any case) that the caller may see."""
    issue_id = _resolve(principal, issue_ref)
    issue = issues.get_issue(issue_id) if issue_id else None
    if issue is None:
        raise NotFound("Issue not found")
    require_company(principal, issue.company_id)
    return issue


def list_wakes(principal: Principal, issue_ref: str) -> list[Wake]:
    """An issue's wake-ups and how each went, for whoever may see the issue."""
    return wakes.list_wakes(get_issue(principal, issue_ref).id)


def _resolve(principal: Principal, issue_ref: str) -> str | None:
    text = issue_ref.strip()
    if _IDENTIFIER.match(text.upper()):
        scope = principal.company_scope
        companies = scope if scope is not None else {c.id for c in directory.list_companies(None)}
        return issues.find_identifier(companies, text.upper())
    return text.lower() if is_id(text.lower()) else None


def list_issues(principal: Principal, company_id: str, query: IssueQuery) -> Page[Issue]:
    """One page of the company's issues matching `query`, with the cursor of the next page if there is one."""
    get_company(principal, company_id)  # 404 for an unknown or malformed id, as on every company route
    return issues.list_issues(company_id, query)


def inbox(principal: Principal) -> list[Issue]:
    """The calling agent's open work (todo, in_progress, blocked): most urgent first, then latest updated."""
    agent_id, company_id = require_agent(principal)
    query = IssueQuery(statuses=frozenset(INBOX_STATUSES), assignee_agent_id=agent_id, limit=INBOX_LIMIT)
    newest_first = sorted(
        issues.list_issues(company_id, query).items, key=lambda issue: (issue.updated_at, issue.id), reverse=True
    )
    return sorted(newest_first, key=lambda issue: _PRIORITY_RANK[issue.priority])  # stable: newest first within


def update_issue(
    principal: Principal, issue_ref: str, command: UpdateIssue, run_id: str | None, now: datetime, new_id: IdFactory
) -> tuple[Issue, IssueComment | None]:
    """Edits an issue (and adds the comment sent with it); closing an execution issue finishes its run and
    frees its routine, and reopening it reverts both, all in one transaction."""
    read = get_issue(principal, issue_ref)
    stamp = to_iso(now)
    changed = apply_status(read, replace(read, **command.changes(read), updated_at=stamp), stamp)
    _check_agent_edit(principal, read, changed, run_id)
    if command.sent("assignee_agent_id") and changed.assignee_agent_id:
        check_assignable(read.company_id, changed.assignee_agent_id)
    if changed.status == IssueStatus.in_progress and not changed.assignee_agent_id:
        raise Invalid("in_progress issues require an assignee")
    comment = _comment(principal, read, command.comment, run_id, stamp, new_id) if command.comment else None
    try:
        made = activity_on(read, principal.agent_id, stamp)
        issues.update_issue(changed, read, comment, run_follows(read.status, changed.status), made)
    except issues.IssueChanged as exc:
        raise Conflict("Issue was updated by someone else; retry") from exc
    return changed, comment


def _check_agent_edit(principal: Principal, read: Issue, changed: Issue, run_id: str | None) -> None:
    if not principal.is_agent:
        return
    if read.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only update issues assigned to themselves")
    if changed.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only assign issues to themselves")
    if read.status == IssueStatus.in_progress and read.checkout_run_id and run_id and run_id != read.checkout_run_id:
        details = {**_holder(read), "actorAgentId": principal.agent_id, "actorRunId": run_id}
        raise Conflict("Issue run ownership conflict", details)


def _holder(issue: Issue) -> dict[str, str | None]:
    return {
        "issueId": issue.id,
        "status": str(issue.status),
        "assigneeAgentId": issue.assignee_agent_id,
        "checkoutRunId": issue.checkout_run_id,
        "executionRunId": issue.execution_run_id,
    }


def checkout(principal: Principal, issue_ref: str, command: CheckoutIssue, run_id: str | None, now: datetime) -> Issue:
    """Makes the issue `in_progress` for the agent (and run): exactly one of racing agents gets it; the agent
    that holds it gets it again unchanged."""
    read = get_issue(principal, issue_ref)
    if principal.is_agent and command.agent_id != principal.agent_id:
        raise Forbidden("Agent can only checkout as itself")
    check_assignable(read.company_id, command.agent_id)
    statuses = frozenset(command.expected_statuses) & CHECKOUT_STATUSES
    try:
        if statuses:
            made = activity_on(read, command.agent_id, to_iso(now))
            return issues.checkout(read, command.agent_id, run_id, statuses, made)
    except issues.ProjectPaused as exc:
        raise Conflict("Project is paused") from exc
    except issues.AgentUnavailable as exc:
        raise Conflict("Cannot assign work to this agent: it is no longer assignable") from exc
    except issues.CheckoutRefused:
        pass
    current = issues.get_issue(read.id) or read
    if current.status == IssueStatus.in_progress and (current.assignee_agent_id, current.checkout_run_id) == (
        command.agent_id,
        run_id,
    ):
        return current
    raise Conflict("Issue checkout conflict", _holder(current))


def release(principal: Principal, issue_ref: str, run_id: str | None, now: datetime) -> Issue:
    """Gives an issue back: unassigned, its checkout dropped, `in_progress` back to `todo`."""
    read = get_issue(principal, issue_ref)
    if principal.is_agent and read.assignee_agent_id != principal.agent_id:
        raise Conflict("Only assignee can release issue")
    if principal.is_agent and read.checkout_run_id and run_id and run_id != read.checkout_run_id:
        details = {
            "issueId": read.id,
            "assigneeAgentId": read.assignee_agent_id,
            "checkoutRunId": read.checkout_run_id,
            "actorRunId": run_id,
        }
        raise Conflict("Only checkout run can release issue", details)
    try:
        return issues.release(read, activity_on(read, principal.agent_id, to_iso(now)))
    except issues.IssueChanged as exc:
        raise Conflict("Issue was updated by someone else; retry") from exc


def add_comment(
    principal: Principal, issue_ref: str, command: AddComment, run_id: str | None, now: datetime, new_id: IdFactory
) -> IssueComment:
    """Adds a comment by the caller (and the run it names) to an issue of its company."""
    issue = get_issue(principal, issue_ref)
    comment = _comment(principal, issue, command.body, run_id, to_iso(now), new_id)
    try:
        issues.add_comment(comment, activity_on(issue, principal.agent_id, comment.created_at))
    except issues.IssueChanged as exc:
        raise NotFound("Issue not found") from exc
    return comment


def _comment(
    principal: Principal, issue: Issue, body: str, run_id: str | None, stamp: str, new_id: IdFactory
) -> IssueComment:
    author = AuthorType.agent if principal.is_agent else AuthorType.user
    return IssueComment(new_id(), issue.company_id, issue.id, author, principal.agent_id, run_id, body, stamp, stamp)


def list_comments(principal: Principal, issue_ref: str, query: CommentQuery) -> list[IssueComment]:
    """Comments after the `after` comment (none for an unknown one), newest first unless asked oldest first."""
    issue = get_issue(principal, issue_ref)
    if query.after is not None and (not is_id(query.after) or issues.get_comment(issue.id, query.after) is None):
        return []
    return issues.list_comments(issue.id, query)


def get_comment(principal: Principal, issue_ref: str, comment_id: str) -> IssueComment:
    issue = get_issue(principal, issue_ref)
    comment = issues.get_comment(issue.id, comment_id) if is_id(comment_id) else None
    if comment is None:
        raise NotFound("Comment not found")
    return comment


def heartbeat_context(principal: Principal, issue_ref: str, wake_comment_id: str | None) -> HeartbeatContext:
    """The issue with its project, goal, routine and run (what fired it), and its comment cursor."""
    issue = get_issue(principal, issue_ref)
    latest = issues.list_comments(issue.id, CommentQuery(limit=1))
    routine = routines.get_routine(issue.origin_id) if issue.origin_id and issue.origin_run_id else None
    return HeartbeatContext(
        issue=issue,
        project=directory.get_member(Project, issue.company_id, issue.project_id) if issue.project_id else None,
        goal=directory.get_member(Goal, issue.company_id, issue.goal_id) if issue.goal_id else None,
        routine=routine,
        run=runs.get_run(routine.id, issue.origin_run_id) if routine and issue.origin_run_id else None,
        total_comments=issues.count_comments(issue.id),
        latest_comment=latest[0] if latest else None,
        wake_comment=issues.get_comment(issue.id, wake_comment_id)
        if wake_comment_id and is_id(wake_comment_id)
        else None,
    )
