"""Execution issues: reads, and the edit transaction that keeps the routine's open set and the origin run true."""

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.domain.models import Issue, IssueStatus, OpenIssue, RunStatus
from chalicelib.store.mapping import from_item, to_item, update_actions
from chalicelib.store.tables import IssueItem, RoutineItem, RunItem, read
from chalicelib.store.tx import Tx, TxCancelled


class IssueChanged(Exception):
    """The issue (or its routine or run) changed since it was read: read again."""


def get_issue(issue_id: str) -> Issue | None:
    item = read(IssueItem, issue_id)
    return _issue(item) if item else None


def list_issues(
    company_id: str,
    assignee_agent_id: str | None,
    status: str | None,
    origin_id: str | None,
) -> list[Issue]:
    conditions: list[Condition] = []
    if status:
        conditions.append(IssueItem.status == status)
    if origin_id:
        conditions.append(IssueItem.originId == origin_id)
    if assignee_agent_id:
        index, key = IssueItem.byAssignee, assignee_agent_id
        conditions.append(IssueItem.companyId == company_id)
    else:
        index, key = IssueItem.byCompany, company_id  # type: ignore[assignment]
    condition = None
    for part in conditions:
        condition = part if condition is None else condition & part
    return [_issue(item) for item in index.query(key, filter_condition=condition, scan_index_forward=False)]


def update_issue(issue: Issue, read: Issue) -> None:
    """Writes the fields that changed since `read`; its routine's open set and its origin run follow its
    status, in one transaction.

    Every write is conditioned on the status read, so two racing closes cannot both move the run.
    """
    tx = Tx()
    actions = update_actions(issue_item(issue), since=issue_item(read))
    tx.update("issue", IssueItem(issue.id), actions, IssueItem.status == str(read.status))
    if issue.origin_id and issue.origin_run_id:
        _follow_status(tx, issue, read.status, issue.origin_id, OpenIssue(issue.id, issue.origin_run_id))
    try:
        tx.commit()
    except TxCancelled as exc:
        raise IssueChanged() from exc


def _follow_status(tx: Tx, issue: Issue, was: IssueStatus, routine_id: str, entry: OpenIssue) -> None:
    if issue.status.is_open != was.is_open:
        encoded = {entry.encode()}
        change = RoutineItem.openIssues.add(encoded) if issue.status.is_open else RoutineItem.openIssues.delete(encoded)
        tx.update("routine", RoutineItem(routine_id), [change], RoutineItem.id.exists())
    # Open to open leaves the run as it is; done and cancelled each say how it ended, even after one another.
    if issue.status != was and not (issue.status.is_open and was.is_open):
        tx.update(
            "run",
            RunItem(routine_id, entry.run_id),
            [*_run_outcome(issue), RunItem.updatedAt.set(issue.updated_at)],
            RunItem.id.exists(),
        )


def _run_outcome(issue: Issue) -> list[Action]:
    if issue.status == IssueStatus.done:
        return [
            RunItem.status.set(str(RunStatus.completed)),
            RunItem.failureReason.remove(),
            RunItem.completedAt.set(issue.updated_at),
        ]
    if issue.status == IssueStatus.cancelled:
        return [
            RunItem.status.set(str(RunStatus.failed)),
            RunItem.failureReason.set(f"Execution issue moved to {issue.status}"),
            RunItem.completedAt.set(issue.updated_at),
        ]
    return [
        RunItem.status.set(str(RunStatus.issue_created)),
        RunItem.completedAt.remove(),
        RunItem.failureReason.remove(),
    ]


def issue_item(issue: Issue) -> IssueItem:
    return to_item(IssueItem, issue)


def _issue(item: IssueItem) -> Issue:
    return from_item(Issue, item)


def get_issues(issue_ids: set[str]) -> dict[str, Issue]:
    """Issues by id, read consistently in batches of a hundred."""
    return {item.id: _issue(item) for item in IssueItem.batch_get(sorted(issue_ids), consistent_read=True)}
