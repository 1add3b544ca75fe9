"""Companies, agents, projects, goals and their keys: operated by board keys and `routines admin`."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.errors import Conflict, Forbidden, Invalid, NotFound
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
from chalicelib.domain.signing import new_secret
from chalicelib.domain.timefmt import to_iso
from chalicelib.domain.wakes import HTTP_ADAPTER
from chalicelib.services.auth import issue_key, require_agent, require_board, require_company
from chalicelib.services.commands import AgentAdapter, CreateAgent, PauseProject, UpdateAgent, http_config
from chalicelib.store import directory, wakes
from chalicelib.store.directory import AnyMember


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
    return get_company_with(principal, company_id, ())[0]


def get_company_with(
    principal: Principal, company_id: str, wanted: Iterable[tuple[type[AnyMember], str]]
) -> tuple[Company, list[AnyMember]]:
    """The company, if the caller may see it, with these of its agents, projects or goals, in one read."""
    company, members = directory.get_company_with(company_id, wanted) if is_id(company_id) else (None, [])
    if company is None:
        raise NotFound("Company not found")
    require_company(principal, company_id)
    return company, members


def list_companies(principal: Principal) -> list[Company]:
    return directory.list_companies(principal.company_scope)


def board_company(principal: Principal, company_id: str) -> Company:
    """The company, for a board key that may change it (403 for agents, then 404 before 403 as for reads)."""
    require_board(principal)
    return get_company(principal, company_id)


def create_agent(
    company: Company,
    name: str,
    role: str | None,
    now: datetime,
    new_id: IdFactory,
    adapter: AgentAdapter | None = None,
) -> Agent:
    stamp = to_iso(now)
    agent = Agent(new_id(), company.id, name, AgentStatus.active, role, stamp, stamp)
    agent = replace(agent, **adapter.changes(agent)) if adapter else agent
    directory.put_member(agent)
    return agent


@dataclass(frozen=True)
class AgentWithSecret:
    """An agent as created or changed, with its wake secret when this call made one (shown once)."""

    agent: Agent
    wake_secret: str | None = None


def add_agent(company: Company, command: CreateAgent, now: datetime, new_id: IdFactory) -> AgentWithSecret:
    """Creates an agent; an `http` agent gets its wake secret at once."""
    agent = create_agent(company, command.name, command.role, now, new_id, command)
    return AgentWithSecret(agent, _first_wake_secret(agent, now))


def find_agent(agent_id: str) -> Agent:
    company_id = directory.owner_of(agent_id) if is_id(agent_id) else None
    agent = directory.get_member(Agent, company_id, agent_id) if company_id else None
    if agent is None:
        raise NotFound("Agent not found")
    return agent


def update_agent(principal: Principal, agent_id: str, command: UpdateAgent, now: datetime) -> AgentWithSecret:
    """Changes an agent's status or adapter (board keys); becoming `http` makes its wake secret if it has none."""
    agent = _board_agent(principal, agent_id)
    changed = replace(agent, **command.changes(agent), updated_at=to_iso(now))
    if command.sent("adapter_config") and not command.sent("adapter_type") and agent.adapter_type == HTTP_ADAPTER:
        changed = replace(changed, adapter_config=_http_config(command.adapter_config))
    directory.update_agent(changed)
    return AgentWithSecret(changed, _first_wake_secret(changed, now))


def rotate_wake_secret(principal: Principal, agent_id: str, now: datetime) -> AgentWithSecret:
    """A new wake secret for an `http` agent, replacing the old one at once."""
    agent = _board_agent(principal, agent_id)
    if agent.adapter_type != HTTP_ADAPTER:
        raise Conflict("Only agents with adapterType http are woken, and so have a wake secret")
    secret = new_secret()
    wakes.set_wake_secret(agent, secret, to_iso(now), only_if_absent=False)
    return AgentWithSecret(agent, secret)


def _http_config(config: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return http_config(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Invalid(f"adapterConfig{'.' + where if where else ''}: {first['msg']}") from exc


def _board_agent(principal: Principal, agent_id: str) -> Agent:
    require_board(principal)
    agent = find_agent(agent_id)
    require_company(principal, agent.company_id)
    return agent


def _first_wake_secret(agent: Agent, now: datetime) -> str | None:
    if agent.adapter_type != HTTP_ADAPTER:
        return None
    secret = new_secret()
    return secret if wakes.set_wake_secret(agent, secret, to_iso(now), only_if_absent=True) else None


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


def pause_project(principal: Principal, project_id: str, command: PauseProject, now: datetime) -> Project:
    """Holds a project's scheduled work back until it resumes; pausing again keeps the first `pausedAt`."""
    project = _board_project(principal, project_id)
    paused = replace(project, paused_at=project.paused_at or to_iso(now), pause_reason=command.reason or "manual")
    directory.set_project_pause(paused)
    return paused


def resume_project(principal: Principal, project_id: str) -> Project:
    """Lets a project's schedules fire again from their next slot (nothing missed while paused is owed)."""
    resumed = replace(_board_project(principal, project_id), paused_at=None, pause_reason=None)
    directory.set_project_pause(resumed)
    return resumed


def _board_project(principal: Principal, project_id: str) -> Project:
    require_board(principal)
    company_id = directory.owner_of(project_id) if is_id(project_id) else None
    project = directory.get_member(Project, company_id, project_id) if company_id else None
    if project is None:
        raise NotFound("Project not found")
    require_company(principal, project.company_id)
    return project


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
