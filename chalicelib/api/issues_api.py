"""Execution issues, and the public webhook route."""

from typing import Any

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import render, schemas
from chalicelib.api.http import Call, route
from chalicelib.services import issues, ratelimit, webhooks

bp = Blueprint(__name__)


@route(bp, "/companies/{companyId}/issues")
def list_issues(call: Call, companyId: str) -> list[dict[str, Any]]:
    filters = {
        "assignee_agent_id": call.query("assigneeAgentId"),
        "status": call.query("status"),
        "origin_id": call.query("originId"),
    }
    return [render.issue(issue) for issue in issues.list_issues(call.principal, companyId, filters)]


@route(bp, "/issues/{issueId}")
def get_issue(call: Call, issueId: str) -> dict[str, Any]:
    return render.issue(issues.get_issue(call.principal, issueId))


@route(bp, "/issues/{issueId}", methods=("PATCH",))
def update_issue(call: Call, issueId: str) -> dict[str, Any]:
    fields = call.body(schemas.UpdateIssue).fields()
    return render.issue(issues.update_issue(call.principal, issueId, fields, call.now))


@route(
    bp,
    "/routine-triggers/public/{publicId}/fire",
    methods=("POST",),
    status=202,
    public=True,
)
def fire_webhook(call: Call, publicId: str) -> dict[str, Any]:
    # Counted before anything else, rejected deliveries too; every answer carries the allowance left.
    allowance = ratelimit.admit_delivery(publicId, call.client_ip, call.now, runtime.settings().webhook_limits)
    call.response_headers.update(allowance.headers())
    run = webhooks.fire_webhook(publicId, dict(call.request.headers), call.raw_body, call.now, runtime.new_id)
    return render.run(run)
