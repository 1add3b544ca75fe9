"""Execution issues: how agents pick work up and close the loop."""

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.services import issues
from chalicelib.services.commands import IssueQuery, UpdateIssue

bp = Blueprint(__name__)
routes = Routes(bp, "issues")


@routes.get("/companies/{companyId}/issues", errors=(403, 404), query=("assigneeAgentId", "status", "originId"))
def list_issues(call: Call, companyId: str) -> list[responses.Issue]:
    """List a company's issues"""
    query = IssueQuery(call.query("assigneeAgentId"), call.query("status"), call.query("originId"))
    return [responses.Issue.of(issue) for issue in issues.list_issues(call.principal, companyId, query)]


@routes.get("/issues/{issueId}", errors=(403, 404))
def get_issue(call: Call, issueId: str) -> responses.Issue:
    """An issue"""
    return responses.Issue.of(issues.get_issue(call.principal, issueId))


@routes.patch("/issues/{issueId}", errors=(403, 404, 409))
def update_issue(call: Call, issueId: str, body: UpdateIssue) -> responses.Issue:
    """Change an issue

    Closing an execution issue (`done`, `cancelled`) finishes its run and frees its routine.
    """
    return responses.Issue.of(issues.update_issue(call.principal, issueId, body, call.now))
