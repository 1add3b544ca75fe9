"""Execution issues and their comments: reads, pages, and the conditional writes that keep the routine's open
set and the origin run true."""

from collections.abc import Iterable, Iterator

from pynamodb.attributes import UnicodeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.domain.gate import Activity
from chalicelib.domain.models import (
    ASSIGNABLE_AGENT_STATUSES,
    ROUTINE_EXECUTION,
    Issue,
    IssueComment,
    IssueStatus,
    OpenIssue,
    RunStatus,
)
from chalicelib.domain.queries import CommentQuery, IssueQuery
from chalicelib.domain.workflow import RunFollows, failure_reason
from chalicelib.store import activity
from chalicelib.store.mapping import from_item, to_item, update_actions
from chalicelib.store.pages import BY_UPDATE, Page, query_page
from chalicelib.store.tables import (
    LAYOUT,
    ClaimItem,
    CommentItem,
    DirectoryItem,
    IssueItem,
    RoutineItem,
    RunItem,
    read,
    read_many,
)
from chalicelib.store.tx import Tx, TxCancelled


class IssueChanged(Exception):
    """The issue (or its routine or run) changed since it was read: read again."""


class CheckoutRefused(Exception):
    """The issue is not in an expected status, or another agent or run holds it."""


class ProjectPaused(Exception):
    """The issue's project was paused when its checkout was tried."""


class AgentUnavailable(Exception):
    """The agent checking out is not assignable (terminated, pending approval or gone)."""


def get_issue(issue_id: str) -> Issue | None:
    item = read(IssueItem, issue_id)
    return _issue(item) if item else None


def get_issues(issue_ids: set[str]) -> dict[str, Issue]:
    """Issues by id, read consistently in batches of a hundred."""
    return {item.id: _issue(item) for item in read_many(IssueItem, issue_ids)}


def identifier_claim(issue: Issue) -> ClaimItem:
    """The lookup item that finds an issue from its identifier, written with the issue."""
    return ClaimItem(_identifier_key(issue.company_id, issue.identifier), targetId=issue.id, companyId=issue.company_id)


def find_identifier(company_ids: Iterable[str], identifier: str) -> str | None:
    """The id of the issue of one of these companies with this (upper-case) identifier, read consistently."""
    keys = [_identifier_key(company_id, identifier) for company_id in company_ids]
    found = [item.targetId for item in read_many(ClaimItem, keys) if item.targetId]
    return min(found, default=None)


def _identifier_key(company_id: str, identifier: str) -> str:
    return f"issue#{company_id}#{identifier.upper()}"


def list_issues(company_id: str, query: IssueQuery) -> Page[Issue]:
    """One page of a company's issues, most recently updated first, matching every field of `query`."""
    if query.statuses is not None and not query.statuses:
        return Page([], None)
    index, key = _index_for(company_id, query)
    condition = _filter(company_id, query)
    return query_page(
        index, _issue, key, query.limit, query.cursor, BY_UPDATE, filter_condition=condition, scan_index_forward=False
    )


def _index_for(company_id: str, query: IssueQuery) -> tuple[GlobalSecondaryIndex[IssueItem], str]:
    if query.assignee_agent_id:
        return IssueItem.byAssignee, query.assignee_agent_id
    return IssueItem.byCompany, company_id


def _filter(company_id: str, query: IssueQuery) -> Condition | None:
    parts: list[Condition] = []
    if query.assignee_agent_id:
        parts.append(IssueItem.companyId == company_id)
    if query.unassigned:
        parts.append(IssueItem.assigneeAgentId.does_not_exist())
    if query.statuses:
        parts.append(IssueItem.status.is_in(*sorted(query.statuses)))
    exact = [
        (IssueItem.projectId, query.project_id),
        (IssueItem.parentId, query.parent_id),
        (IssueItem.originKind, query.origin_kind),
        (IssueItem.originId, query.origin_id),
    ]
    parts.extend(attribute == value for attribute, value in exact if value)
    if query.exclude_routine_executions and not (query.origin_kind or query.origin_id):
        parts.append(~(IssueItem.originKind == ROUTINE_EXECUTION))
    condition = None
    for part in parts:
        condition = part if condition is None else condition & part
    return condition


def update_issue(issue: Issue, read: Issue, comment: IssueComment | None, follows: RunFollows, made: Activity) -> None:
    """Writes the fields that changed since `read` (and the comment sent with them); its routine's open set,
    its origin run and its scopes' activity follow, in one transaction.

    Every write is conditioned on the issue as read, so two racing changes cannot both move the run.
    """
    tx = Tx()
    actions = update_actions(issue_item(issue), since=issue_item(read))
    tx.update("issue", IssueItem(issue.id), actions, _as_read(read))
    if comment is not None:
        tx.put("comment", to_item(CommentItem, comment), CommentItem.id.does_not_exist())
    activity.record(tx, made)
    if issue.origin_id and issue.origin_run_id:
        _follow_status(
            tx, issue, read.status, follows, OpenIssue(issue.id, issue.origin_run_id, issue.origin_fingerprint)
        )
    _commit(tx)


def _as_read(read: Issue) -> Condition:
    """The issue still has the status, assignee and checkout run it was read with."""
    status: Condition = IssueItem.status == str(read.status)
    status &= _equal_or_absent(IssueItem.assigneeAgentId, read.assignee_agent_id)
    status &= _equal_or_absent(IssueItem.checkoutRunId, read.checkout_run_id)
    return status


def _equal_or_absent(attribute: UnicodeAttribute, value: str | None) -> Condition:
    condition: Condition = attribute.does_not_exist() if value is None else attribute == value
    return condition


def _commit(tx: Tx) -> None:
    try:
        tx.commit()
    except TxCancelled as exc:
        raise IssueChanged() from exc


def _follow_status(tx: Tx, issue: Issue, was: IssueStatus, follows: RunFollows, entry: OpenIssue) -> None:
    routine_id = issue.origin_id or ""
    if issue.status.is_open != was.is_open:
        encoded = {entry.encode()}
        change = RoutineItem.openIssues.add(encoded) if issue.status.is_open else RoutineItem.openIssues.delete(encoded)
        tx.update("routine", RoutineItem(routine_id), [change], RoutineItem.id.exists())
    if follows != RunFollows.stays:
        tx.update(
            "run",
            RunItem(routine_id, entry.run_id),
            [*_run_outcome(issue, follows), RunItem.updatedAt.set(issue.updated_at)],
            RunItem.id.exists(),
        )


def _run_outcome(issue: Issue, follows: RunFollows) -> list[Action]:
    """The run's status after its issue's; a closed issue's run starts its retention age, a reopened one's stops."""
    if follows == RunFollows.reverts:
        return [
            RunItem.status.set(str(RunStatus.issue_created)),
            RunItem.completedAt.remove(),
            RunItem.failureReason.remove(),
            RunItem.expiresAt.remove(),
        ]
    if follows == RunFollows.completes:
        outcome = [RunItem.status.set(str(RunStatus.completed)), RunItem.failureReason.remove()]
    else:
        outcome = [
            RunItem.status.set(str(RunStatus.failed)),
            RunItem.failureReason.set(failure_reason(issue.status)),
        ]
    expires_at = LAYOUT[0].run_expiry(issue.updated_at)
    if expires_at is not None:
        outcome.append(RunItem.expiresAt.set(expires_at))
    return [*outcome, RunItem.completedAt.set(issue.updated_at)]


def checkout(read: Issue, agent_id: str, run_id: str | None, statuses: frozenset[IssueStatus], made: Activity) -> Issue:
    """Makes the issue `in_progress`, owned by the agent (and run): one transaction whose condition admits
    only an issue in one of `statuses` that nobody else (no other agent, no other run) holds."""
    held_by_caller = (IssueItem.assigneeAgentId.does_not_exist() | (IssueItem.assigneeAgentId == agent_id)) & (
        _run_free_or(IssueItem.checkoutRunId, run_id) & _run_free_or(IssueItem.executionRunId, run_id)
    )
    runs = [IssueItem.checkoutRunId, IssueItem.executionRunId]
    tx = Tx()
    tx.update(
        "issue",
        IssueItem(read.id),
        [
            IssueItem.assigneeAgentId.set(agent_id),
            *[attribute.set(run_id) if run_id else attribute.remove() for attribute in runs],
            IssueItem.status.set(str(IssueStatus.in_progress)),
            IssueItem.startedAt.set(made.at),
            IssueItem.updatedAt.set(made.at),
        ],
        IssueItem.status.is_in(*sorted(statuses)) & held_by_caller,
    )
    tx.check("agent", DirectoryItem(read.company_id, f"AGENT#{agent_id}"), _assignable())
    activity.record(tx, made)
    if read.project_id:
        tx.check(
            "project",
            DirectoryItem(read.company_id, f"PROJECT#{read.project_id}"),
            DirectoryItem.pausedAt.does_not_exist(),
        )
    try:
        tx.commit()
    except TxCancelled as exc:
        raise _refusal(exc.failed) from exc
    return _reread(read.id)


def _refusal(failed: set[str]) -> Exception:
    if "project" in failed:
        return ProjectPaused()
    return AgentUnavailable() if "agent" in failed else CheckoutRefused()


def _run_free_or(attribute: UnicodeAttribute, run_id: str | None) -> Condition:
    free = attribute.does_not_exist()
    return free | (attribute == run_id) if run_id else free


def _assignable() -> Condition:
    condition: Condition = DirectoryItem.status.is_in(*sorted(ASSIGNABLE_AGENT_STATUSES))
    return condition


def release(read: Issue, made: Activity) -> Issue:
    """Gives the issue back: unassigned, no checkout, `in_progress` back to `todo`; if it is still as read."""
    now = made.at
    status = IssueStatus.todo if read.status == IssueStatus.in_progress else read.status
    actions: list[Action] = [
        IssueItem.status.set(str(status)),
        IssueItem.assigneeAgentId.remove(),
        IssueItem.checkoutRunId.remove(),
        IssueItem.executionRunId.remove(),
        IssueItem.updatedAt.set(now),
    ]
    tx = Tx()
    tx.update("issue", IssueItem(read.id), actions, _as_read(read))
    activity.record(tx, made)
    _commit(tx)
    return _reread(read.id)


def _reread(issue_id: str) -> Issue:
    issue = get_issue(issue_id)
    if issue is None:
        raise IssueChanged()
    return issue


def add_comment(comment: IssueComment, made: Activity) -> None:
    """Adds a comment to an issue that exists, and records it as activity of the issue's scopes."""
    tx = Tx()
    tx.put("comment", to_item(CommentItem, comment), CommentItem.id.does_not_exist())
    activity.record(tx, made)
    tx.check("issue", IssueItem(comment.issue_id), IssueItem.id.exists())
    _commit(tx)


def get_comment(issue_id: str, comment_id: str) -> IssueComment | None:
    item = read(CommentItem, issue_id, comment_id)
    return from_item(IssueComment, item) if item else None


def list_comments(issue_id: str, query: CommentQuery) -> list[IssueComment]:
    """The issue's comments strictly after the cursor comment, in the asked direction (ids are time-ordered)."""
    after = None
    if query.after:
        after = CommentItem.id > query.after if query.ascending else CommentItem.id < query.after
    found: Iterator[CommentItem] = CommentItem.query(
        issue_id, range_key_condition=after, scan_index_forward=query.ascending, limit=query.limit
    )
    return [from_item(IssueComment, item) for item in found]


def count_comments(issue_id: str) -> int:
    return CommentItem.count(issue_id, consistent_read=True)


def issue_item(issue: Issue) -> IssueItem:
    return to_item(IssueItem, issue)


def _issue(item: IssueItem) -> Issue:
    return from_item(Issue, item)
