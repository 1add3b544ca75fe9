"""Companies, agents, projects, goals and keys (board keys)."""

from typing import Any

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import render, schemas
from chalicelib.api.http import Call, route
from chalicelib.services import directory
from chalicelib.services.auth import require_board
from chalicelib.store import directory as store

bp = Blueprint(__name__)


@route(bp, "/companies", methods=("POST",), status=201)
def create_company(call: Call) -> dict[str, Any]:
    body = call.body(schemas.CreateCompany)
    return render.camel(
        directory.create_company(call.principal, body.name, body.issue_prefix, call.now, runtime.new_id)
    )


@route(bp, "/companies")
def list_companies(call: Call) -> list[dict[str, Any]]:
    return [render.camel(company) for company in directory.list_companies(call.principal)]


@route(bp, "/companies/{companyId}/agents", methods=("POST",), status=201)
def create_agent(call: Call, companyId: str) -> dict[str, Any]:
    require_board(call.principal)
    company = directory.get_company(call.principal, companyId)
    body = call.body(schemas.CreateAgent)
    return render.camel(directory.create_agent(company, body.name, body.role, call.now, runtime.new_id))


@route(bp, "/companies/{companyId}/agents")
def list_agents(call: Call, companyId: str) -> list[dict[str, Any]]:
    company = directory.get_company(call.principal, companyId)
    return [render.camel(agent) for agent in store.list_agents(company.id)]


@route(bp, "/agents/{agentId}", methods=("PATCH",))
def update_agent(call: Call, agentId: str) -> dict[str, Any]:
    body = call.body(schemas.UpdateAgent)
    return render.camel(directory.set_agent_status(call.principal, agentId, body.status, call.now))


@route(bp, "/agents/{agentId}/keys", methods=("POST",), status=201)
def create_agent_key(call: Call, agentId: str) -> dict[str, Any]:
    body = call.body(schemas.CreateKey)
    agent, key = directory.create_agent_key(call.principal, agentId, body.label, call.now)
    return {
        "agentId": agent.id,
        "companyId": agent.company_id,
        "label": body.label,
        "token": key,
    }


@route(bp, "/companies/{companyId}/projects", methods=("POST",), status=201)
def create_project(call: Call, companyId: str) -> dict[str, Any]:
    require_board(call.principal)
    company = directory.get_company(call.principal, companyId)
    body = call.body(schemas.CreateProject)
    return render.camel(directory.create_project(company, body.name, body.description, call.now, runtime.new_id))


@route(bp, "/companies/{companyId}/projects")
def list_projects(call: Call, companyId: str) -> list[dict[str, Any]]:
    company = directory.get_company(call.principal, companyId)
    return [render.camel(project) for project in store.list_projects(company.id)]


@route(bp, "/companies/{companyId}/goals", methods=("POST",), status=201)
def create_goal(call: Call, companyId: str) -> dict[str, Any]:
    require_board(call.principal)
    company = directory.get_company(call.principal, companyId)
    body = call.body(schemas.CreateGoal)
    return render.camel(directory.create_goal(company, body.title, body.description, call.now, runtime.new_id))


@route(bp, "/companies/{companyId}/goals")
def list_goals(call: Call, companyId: str) -> list[dict[str, Any]]:
    company = directory.get_company(call.principal, companyId)
    return [render.camel(goal) for goal in store.list_goals(company.id)]
