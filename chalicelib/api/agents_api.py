"""The calling agent: who it is, and its open work."""

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.services import directory, issues

bp = Blueprint(__name__)
routes = Routes(bp, "agents")


@routes.get("/agents/me")
def get_me(call: Call) -> responses.Agent:
    """The calling agent (agent keys only)"""
    return responses.Agent.of(directory.current_agent(call.principal))


@routes.get("/agents/me/inbox-lite")
def get_inbox(call: Call) -> list[responses.InboxItem]:
    """The calling agent's open issues

    Assigned to it and `todo`, `in_progress` or `blocked`: most urgent first, then most recently updated.
    """
    return [responses.InboxItem.of(issue) for issue in issues.inbox(call.principal)]
