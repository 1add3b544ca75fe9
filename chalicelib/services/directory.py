"""Companies, agents, projects, goals and their keys: operated by board keys and `routines admin`."""

import re
from datetime import datetime

from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import (
    Agent,
    AgentStatus,
    Company,
    Goal,
    Principal,
    PrincipalKind,
    Project,
)
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import issue_key, require_agent, require_board, require_company
from chalicelib.store import directory


def default_issue_prefix(name: str) -> str:
    letters = re.sub(r"[^A-Za-z]", "", name).upper()
    return (letters[:3] or "ISS").ljust(3, "X")


def create_company(
    principal: Principal,
    name: str,
    issue_prefix: str | None,
    now: datetime,
    new_id: IdFactory,
) -> Company:
    """Creates a company; only an all-companies board key (or the operator) may."""
    if principal.kind != PrincipalKind.board or principal.company_scope is not None:
        raise Forbidden("Only an all-companies board key can create companies")
    company = Company(new_id(), name, issue_prefix or default_issue_prefix(name), to_iso(now))
    directory.put_company(company)
    return company


def get_company(principal: Principal, company_id: str) -> Company:
    """The company, if the caller may see it (404 before 403, as for routines)."""
    company = directory.get_company(company_id) if is_id(company_id) else None
    if company is None:
        raise NotFound("Company not found")
    require_company(principal, company_id)
    return company


def list_companies(principal: Principal) -> list[Company]:
    return directory.list_companies(principal.company_scope)


def board_company(principal: Principal, company_id: str) -> Company:
    """The company, for a board key that may change it (403 for agents, then 404 before 403 as for reads)."""
    require_board(principal)
    return get_company(principal, company_id)


def create_agent(company: Company, name: str, role: str | None, now: datetime, new_id: IdFactory) -> Agent:
    stamp = to_iso(now)
    agent = Agent(new_id(), company.id, name, AgentStatus.active, role, stamp, stamp)
    directory.put_member(agent)
    return agent


def find_agent(agent_id: str) -> Agent:
    company_id = directory.owner_of(agent_id) if is_id(agent_id) else None
    agent = directory.get_member(Agent, company_id, agent_id) if company_id else None
    if agent is None:
        raise NotFound("Agent not found")
    return agent


def set_agent_status(principal: Principal, agent_id: str, status: AgentStatus, now: datetime) -> Agent:
    require_board(principal)
    agent = find_agent(agent_id)
    require_company(principal, agent.company_id)
    return directory.set_agent_status(agent, status, to_iso(now))


def create_agent_key(principal: Principal, agent_id: str, label: str | None, now: datetime) -> tuple[Agent, str]:
    require_board(principal)
    agent = find_agent(agent_id)
    require_company(principal, agent.company_id)
    key = issue_key(
        Principal.for_agent(agent.id, agent.company_id),
        label,
        to_iso(now),
    )
    return agent, key


def revoke_agent_key(principal: Principal, agent_id: str, key_id: str, now: datetime) -> None:
    """Revokes one of the agent's keys at once (board key); 404 for a key that is not the agent's."""
    require_board(principal)
    agent = find_agent(agent_id)
    require_company(principal, agent.company_id)
    key_hash = directory.agent_key_hash(agent.id, key_id) if re.fullmatch(r"[0-9a-f]{24}", key_id) else None
    if key_hash is None or not directory.revoke_api_key(key_hash, to_iso(now)):
        raise NotFound("API key not found")


def create_board_key(company_ids: frozenset[str] | None, label: str | None, now: datetime) -> str:
    """A key for operators: the given companies, or all of them."""
    return issue_key(Principal.for_board(company_ids), label, to_iso(now))


def list_agents(principal: Principal, company_id: str) -> list[Agent]:
    return directory.list_members(Agent, get_company(principal, company_id).id)


def create_project(company: Company, name: str, description: str | None, now: datetime, new_id: IdFactory) -> Project:
    project = Project(new_id(), company.id, name, description, None, to_iso(now))
    directory.put_member(project)
    return project


def list_projects(principal: Principal, company_id: str) -> list[Project]:
    return directory.list_members(Project, get_company(principal, company_id).id)


def create_goal(company: Company, title: str, description: str | None, now: datetime, new_id: IdFactory) -> Goal:
    goal = Goal(new_id(), company.id, title, description, to_iso(now))
    directory.put_member(goal)
    return goal


def list_goals(principal: Principal, company_id: str) -> list[Goal]:
    return directory.list_members(Goal, get_company(principal, company_id).id)


def current_agent(principal: Principal) -> Agent:
    """The calling agent (401 for any other caller)."""
    agent_id, company_id = require_agent(principal)
    agent = directory.get_member(Agent, company_id, agent_id)
    if agent is None:
        raise NotFound("Agent not found")
    return agent
