"""Companies, agents, projects, goals and keys (board keys)."""

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.services import directory
from chalicelib.services.auth import key_id
from chalicelib.services.commands import (
    CreateAgent,
    CreateCompany,
    CreateGoal,
    CreateKey,
    CreateProject,
    UpdateAgent,
)

bp = Blueprint(__name__)
routes = Routes(bp, "directory")


@routes.post("/companies", status=201, errors=(403,))
def create_company(call: Call, body: CreateCompany) -> responses.Company:
    """Create a company (all-companies board key)"""
    company = directory.create_company(call.principal, body.name, body.issue_prefix, call.now, runtime.new_id)
    return responses.Company.of(company)


@routes.get("/companies")
def list_companies(call: Call) -> list[responses.Company]:
    """List the companies the key can see"""
    return [responses.Company.of(company) for company in directory.list_companies(call.principal)]


@routes.post("/companies/{companyId}/agents", status=201, errors=(403, 404), request=CreateAgent)
def create_agent(call: Call, companyId: str) -> responses.AgentWithSecret:
    """Create an agent (board key)

    An agent with `adapterType: "http"` is woken by a signed POST when an issue is created for it or
    assigned to it; the answer then holds its `wakeSecret`, shown this once.
    """
    company = directory.board_company(call.principal, companyId)  # 403 and 404 come before a bad body
    body = call.body(CreateAgent)
    return responses.AgentWithSecret.made(directory.add_agent(company, body, call.now, runtime.new_id))


@routes.get("/companies/{companyId}/agents", errors=(403, 404))
def list_agents(call: Call, companyId: str) -> list[responses.Agent]:
    """List a company's agents"""
    return [responses.Agent.of(agent) for agent in directory.list_agents(call.principal, companyId)]


@routes.patch("/agents/{agentId}", errors=(403, 404, 422))
def update_agent(call: Call, agentId: str, body: UpdateAgent) -> responses.AgentWithSecret:
    """Change an agent's status or adapter (board key)

    Becoming an `http` agent makes its wake secret, shown in this answer once, if it had none. An
    `adapterConfig` sent without `adapterType` must suit the agent's current type (422 otherwise).
    """
    return responses.AgentWithSecret.made(directory.update_agent(call.principal, agentId, body, call.now))


@routes.post("/agents/{agentId}/wake-secret", status=201, errors=(403, 404, 409))
def rotate_wake_secret(call: Call, agentId: str) -> responses.AgentWithSecret:
    """Rotate an http agent's wake secret (board key)

    The old secret stops signing at once; the new one is shown here and never again.
    """
    return responses.AgentWithSecret.made(directory.rotate_wake_secret(call.principal, agentId, call.now))


@routes.post("/agents/{agentId}/keys", status=201, errors=(403, 404))
def create_agent_key(call: Call, agentId: str, body: CreateKey) -> responses.AgentKey:
    """Issue an API key for an agent (board key)"""
    agent, key = directory.create_agent_key(call.principal, agentId, body.label, call.now)
    return responses.AgentKey(
        id=key_id(key), agent_id=agent.id, company_id=agent.company_id, label=body.label, token=key
    )


@routes.delete("/agents/{agentId}/keys/{keyId}", status=204, errors=(403, 404))
def revoke_agent_key(call: Call, agentId: str, keyId: str) -> None:
    """Revoke an agent's API key (board key)

    The key answers 401 from the next request on.
    """
    directory.revoke_agent_key(call.principal, agentId, keyId, call.now)


@routes.post("/companies/{companyId}/projects", status=201, errors=(403, 404), request=CreateProject)
def create_project(call: Call, companyId: str) -> responses.Project:
    """Create a project (board key)"""
    company = directory.board_company(call.principal, companyId)
    body = call.body(CreateProject)
    project = directory.create_project(company, body.name, body.description, call.now, runtime.new_id)
    return responses.Project.of(project)


@routes.get("/companies/{companyId}/projects", errors=(403, 404))
def list_projects(call: Call, companyId: str) -> list[responses.Project]:
    """List a company's projects"""
    return [responses.Project.of(project) for project in directory.list_projects(call.principal, companyId)]


@routes.post("/companies/{companyId}/goals", status=201, errors=(403, 404), request=CreateGoal)
def create_goal(call: Call, companyId: str) -> responses.Goal:
    """Create a goal (board key)"""
    company = directory.board_company(call.principal, companyId)
    body = call.body(CreateGoal)
    return responses.Goal.of(directory.create_goal(company, body.title, body.description, call.now, runtime.new_id))


@routes.get("/companies/{companyId}/goals", errors=(403, 404))
def list_goals(call: Call, companyId: str) -> list[responses.Goal]:
    """List a company's goals"""
    return [responses.Goal.of(goal) for goal in directory.list_goals(call.principal, companyId)]
