"""Execution issues: how agents find, check out, work and close them (Paperclip's heartbeat procedure)."""

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.domain.queries import COMMENT_PARAMS, ISSUE_PARAMS, CommentQuery, IssueQuery
from chalicelib.services import issues
from chalicelib.services.commands import AddComment, CheckoutIssue, UpdateIssue

bp = Blueprint(__name__)
routes = Routes(bp, "issues")
RUN_ID_HEADER = "x-paperclip-run-id"


def _run_id(call: Call) -> str | None:
    return issues.run_id_of(call.header(RUN_ID_HEADER))


@routes.get("/companies/{companyId}/issues", errors=(400, 403, 404, 422), query=ISSUE_PARAMS)
def list_issues(call: Call, companyId: str) -> list[responses.Issue]:
    """List a company's issues

    Most recently updated first, at most `limit` (default 500, at most 1000). When more remain, the
    `X-Next-Cursor` response header holds the cursor to send back as `nextCursor`; the last page has none.
    """
    page = issues.list_issues(call.principal, companyId, IssueQuery.parse(call.query))
    call.next_cursor(page.next_cursor)
    return [responses.Issue.of(issue) for issue in page.items]


@routes.get("/issues/{issueId}", errors=(403, 404))
def get_issue(call: Call, issueId: str) -> responses.Issue:
    """An issue, by id or identifier (`DEMO-12`, any case)"""
    return responses.Issue.of(issues.get_issue(call.principal, issueId))


@routes.patch("/issues/{issueId}", errors=(403, 404, 409, 422))
def update_issue(call: Call, issueId: str, body: UpdateIssue) -> responses.UpdatedIssue:
    """Change an issue

    Closing an execution issue finishes its run (`done`: completed; `blocked`, `cancelled`: failed) and frees
    its routine; reopening reverts both. A `comment` is added in the same transaction.
    """
    issue, comment = issues.update_issue(call.principal, issueId, body, _run_id(call), call.now, runtime.new_id)
    return responses.UpdatedIssue.of(issue, comment=responses.IssueComment.of(comment) if comment else None)


@routes.post("/issues/{issueId}/checkout", errors=(403, 404, 409, 422))
def checkout_issue(call: Call, issueId: str, body: CheckoutIssue) -> responses.Issue:
    """Check an issue out

    Makes it `in_progress`, owned by `agentId` (and the `X-Paperclip-Run-Id` run). 409 with the holder when
    its status is not expected or another agent or run holds it; the holder checking out again gets 200.
    """
    return responses.Issue.of(issues.checkout(call.principal, issueId, body, _run_id(call), call.now))


@routes.post("/issues/{issueId}/release", errors=(400, 403, 404, 409))
def release_issue(call: Call, issueId: str) -> responses.Issue:
    """Release an issue

    Unassigns it and drops its checkout; `in_progress` goes back to `todo`.
    """
    return responses.Issue.of(issues.release(call.principal, issueId, _run_id(call), call.now))


@routes.post("/issues/{issueId}/comments", status=201, errors=(403, 404))
def add_comment(call: Call, issueId: str, body: AddComment) -> responses.IssueComment:
    """Comment on an issue"""
    comment = issues.add_comment(call.principal, issueId, body, _run_id(call), call.now, runtime.new_id)
    return responses.IssueComment.of(comment)


@routes.get("/issues/{issueId}/comments", errors=(400, 403, 404), query=COMMENT_PARAMS)
def list_comments(call: Call, issueId: str) -> list[responses.IssueComment]:
    """An issue's comments

    Newest first (`order=asc`: oldest first); with `after`, only those after that comment in that order.
    """
    found = issues.list_comments(call.principal, issueId, CommentQuery.parse(call.query))
    return [responses.IssueComment.of(comment) for comment in found]


@routes.get("/issues/{issueId}/comments/{commentId}", errors=(403, 404))
def get_comment(call: Call, issueId: str, commentId: str) -> responses.IssueComment:
    """A comment of an issue"""
    return responses.IssueComment.of(issues.get_comment(call.principal, issueId, commentId))


@routes.get("/issues/{issueId}/heartbeat-context", errors=(403, 404), query=("wakeCommentId",))
def heartbeat_context(call: Call, issueId: str) -> responses.HeartbeatContext:
    """What an agent needs to work an issue

    The issue, its project and goal, for an execution issue its routine and run (with `triggerPayload` and
    `scheduledFor`: what fired it), and the comment cursor.
    """
    context = issues.heartbeat_context(call.principal, issueId, call.query("wakeCommentId"))
    return responses.HeartbeatContext.of_context(context)
