"""Pure decisions: what a firing does, and who may be assigned."""

from chalicelib.domain.errors import Conflict, DomainError, Invalid, NotFound
from chalicelib.domain.models import (
    Agent,
    AgentStatus,
    ConcurrencyPolicy,
    OpenIssue,
    RunStatus,
)


def decide_overlap(policy: ConcurrencyPolicy, open_issue: OpenIssue | None) -> RunStatus:
    """`issue_created`, or `coalesced`/`skipped` when an open execution issue takes the firing."""
    if open_issue is None or policy == ConcurrencyPolicy.always_enqueue:
        return RunStatus.issue_created
    if policy == ConcurrencyPolicy.skip_if_active:
        return RunStatus.skipped
    return RunStatus.coalesced


def trigger_result(status: RunStatus, issue_id: str | None) -> str:
    """The trigger's `lastResult` text after a firing."""
    return {
        RunStatus.issue_created: f"Created execution issue {issue_id}",
        RunStatus.coalesced: "Coalesced into an existing live execution issue",
        RunStatus.skipped: "Skipped because a live execution issue already exists",
    }.get(status, "Execution failed")


_UNASSIGNABLE = {
    AgentStatus.pending_approval: "Cannot assign routines to pending approval agents",
    AgentStatus.terminated: "Cannot assign routines to terminated agents",
}


def assignee_problem(agent: Agent | None, company_id: str, agent_company_id: str | None) -> DomainError | None:
    """Why `agent` cannot be a routine's assignee, or None when it can.

    `agent_company_id` is the company owning the id when the agent is not in `company_id`.
    """
    if agent is None:
        if agent_company_id and agent_company_id != company_id:
            return Invalid("Assignee must belong to same company")
        return NotFound("Assignee agent not found")
    if agent.status in _UNASSIGNABLE:
        reason = "assignee_terminated" if agent.status == AgentStatus.terminated else "pending_approval"
        details = {
            "code": "agent_not_assignable",
            "reason": reason,
            "assigneeAgentId": agent.id,
        }
        return Conflict(_UNASSIGNABLE[agent.status], details)
    return None
