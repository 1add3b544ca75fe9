"""The pure decisions of a firing and of an assignment, as tables: no database, no clock."""

import pytest

from chalicelib.domain.errors import Conflict, DomainError, Invalid, NotFound
from chalicelib.domain.models import Agent, AgentStatus, ConcurrencyPolicy, OpenIssue, RunStatus
from chalicelib.domain.policies import assignee_problem, decide_overlap, trigger_result

COALESCE = ConcurrencyPolicy.coalesce_if_active
ENQUEUE = ConcurrencyPolicy.always_enqueue
SKIP = ConcurrencyPolicy.skip_if_active
OPEN = OpenIssue("issue-1", "run-1")
ACME, GLOBEX = "company-acme", "company-globex"


def agent(status: AgentStatus, company_id: str = ACME) -> Agent:
    return Agent("agent-1", company_id, "Alpha", status, None, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("policy", "open_issue", "expected"),
    [
        pytest.param(COALESCE, None, RunStatus.issue_created, id="coalesce with no open issue creates an issue"),
        pytest.param(SKIP, None, RunStatus.issue_created, id="skip with no open issue creates an issue"),
        pytest.param(ENQUEUE, None, RunStatus.issue_created, id="enqueue with no open issue creates an issue"),
        pytest.param(COALESCE, OPEN, RunStatus.coalesced, id="coalesce joins the open issue"),
        pytest.param(SKIP, OPEN, RunStatus.skipped, id="skip drops the firing while an issue is open"),
        pytest.param(ENQUEUE, OPEN, RunStatus.issue_created, id="enqueue creates another issue beside the open one"),
    ],
)
def test_an_open_issue_takes_the_firing_unless_the_policy_enqueues(
    policy: ConcurrencyPolicy, open_issue: OpenIssue | None, expected: RunStatus
) -> None:
    assert decide_overlap(policy, open_issue) == expected


@pytest.mark.parametrize(
    ("status", "issue_id", "expected"),
    [
        pytest.param(
            RunStatus.issue_created, "issue-7", "Created execution issue issue-7", id="a created issue is named"
        ),
        pytest.param(
            RunStatus.coalesced, None, "Coalesced into an existing live execution issue", id="a coalesced firing"
        ),
        pytest.param(
            RunStatus.skipped, None, "Skipped because a live execution issue already exists", id="a skipped firing"
        ),
        pytest.param(RunStatus.failed, None, "Execution failed", id="a failed firing"),
        pytest.param(RunStatus.received, None, "Execution failed", id="any other status reads as a failure"),
    ],
)
def test_the_trigger_records_what_its_last_firing_did(status: RunStatus, issue_id: str | None, expected: str) -> None:
    assert trigger_result(status, issue_id) == expected


@pytest.mark.parametrize("status", [AgentStatus.active, AgentStatus.paused])
def test_an_active_or_paused_agent_of_the_company_may_be_assigned(status: AgentStatus) -> None:
    assert assignee_problem(agent(status), ACME, None) is None


@pytest.mark.parametrize(
    ("owner", "error", "message"),
    [
        pytest.param(None, NotFound, "Assignee agent not found", id="an unknown agent is not found"),
        pytest.param(ACME, NotFound, "Assignee agent not found", id="a missing id of this company"),
        pytest.param(GLOBEX, Invalid, "Assignee must belong to same company", id="another company's agent"),
    ],
)
def test_an_agent_that_cannot_be_found_in_the_company_gets_the_error_naming_why(
    owner: str | None, error: type[DomainError], message: str
) -> None:
    problem = assignee_problem(None, ACME, owner)
    assert type(problem) is error
    assert (problem.message, problem.details) == (message, None)


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        (AgentStatus.terminated, "Cannot assign routines to terminated agents", "assignee_terminated"),
        (AgentStatus.pending_approval, "Cannot assign routines to pending approval agents", "pending_approval"),
    ],
    ids=["a terminated agent conflicts", "an agent pending approval conflicts"],
)
def test_an_agent_that_is_not_assignable_conflicts_naming_why(status: AgentStatus, message: str, reason: str) -> None:
    problem = assignee_problem(agent(status), ACME, None)
    assert type(problem) is Conflict
    details = {"code": "agent_not_assignable", "reason": reason, "assigneeAgentId": "agent-1"}
    assert (problem.message, problem.details) == (message, details)
