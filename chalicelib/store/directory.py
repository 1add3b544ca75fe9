"""Companies, agents, projects, goals and API keys."""

import threading
from collections.abc import Iterable

from pynamodb.exceptions import UpdateError

from chalicelib.domain.models import (
    Agent,
    AgentStatus,
    Company,
    Goal,
    Principal,
    Project,
)
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.tables import ApiKeyItem, ClaimItem, DirectoryItem
from chalicelib.store.tx import Tx

COMPANY = "COMPANY"


def _sk(kind: str, entity_id: str) -> str:
    return f"{kind}#{entity_id}"


def _with_ref(tx: Tx, entity_id: str, company_id: str) -> None:
    """Records which company owns an id, so an id alone finds its item with a consistent read."""
    ref = ClaimItem(f"ref#{entity_id}", targetId=entity_id, companyId=company_id)
    tx.put("ref", ref, ClaimItem.key.does_not_exist())


def owner_of(entity_id: str) -> str | None:
    """The company that owns an agent, project or goal id."""
    try:
        return ClaimItem.get(f"ref#{entity_id}", consistent_read=True).companyId
    except ClaimItem.DoesNotExist:
        return None


def put_company(company: Company) -> None:
    DirectoryItem(
        company.id,
        COMPANY,
        name=company.name,
        issuePrefix=company.issue_prefix,
        issueCounter=0,
        createdAt=company.created_at,
    ).save(DirectoryItem.companyId.does_not_exist())


def get_company(company_id: str) -> Company | None:
    try:
        return _company(DirectoryItem.get(company_id, COMPANY, consistent_read=True))
    except DirectoryItem.DoesNotExist:
        return None


def list_companies(company_ids: frozenset[str] | None) -> list[Company]:
    """Every company (an operator's listing: a Scan of the small directory), or the given ones."""
    if company_ids is None:
        items: Iterable[DirectoryItem] = DirectoryItem.scan(DirectoryItem.sk == COMPANY)
    else:
        items = DirectoryItem.batch_get([(cid, COMPANY) for cid in company_ids])
    return sorted((_company(item) for item in items), key=lambda c: c.created_at)


def _company(item: DirectoryItem) -> Company:
    return Company(item.companyId, item.name or "", item.issuePrefix or "", item.createdAt)


def put_agent(agent: Agent) -> None:
    tx = Tx()
    tx.put(
        "agent",
        DirectoryItem(
            agent.company_id,
            _sk("AGENT", agent.id),
            name=agent.name,
            status=agent.status,
            role=agent.role,
            createdAt=agent.created_at,
            updatedAt=agent.updated_at,
        ),
    )
    _with_ref(tx, agent.id, agent.company_id)
    tx.commit()


def get_agent(company_id: str, agent_id: str) -> Agent | None:
    try:
        return _agent(DirectoryItem.get(company_id, _sk("AGENT", agent_id), consistent_read=True))
    except DirectoryItem.DoesNotExist:
        return None


def list_agents(company_id: str) -> list[Agent]:
    items = DirectoryItem.query(company_id, DirectoryItem.sk.startswith("AGENT#"))
    return sorted((_agent(item) for item in items), key=lambda a: a.created_at)


def set_agent_status(agent: Agent, status: AgentStatus, now: str) -> Agent:
    item = DirectoryItem(agent.company_id, _sk("AGENT", agent.id))
    item.update([DirectoryItem.status.set(status), DirectoryItem.updatedAt.set(now)])
    return _agent(item)


def _agent(item: DirectoryItem) -> Agent:
    agent_id = item.sk.split("#", 1)[1]
    return Agent(
        agent_id,
        item.companyId,
        item.name or "",
        AgentStatus(item.status),
        item.role,
        item.createdAt,
        item.updatedAt or item.createdAt,
    )


def put_project(project: Project) -> None:
    tx = Tx()
    tx.put(
        "project",
        DirectoryItem(
            project.company_id,
            _sk("PROJECT", project.id),
            name=project.name,
            description=project.description,
            pausedAt=project.paused_at,
            createdAt=project.created_at,
        ),
    )
    _with_ref(tx, project.id, project.company_id)
    tx.commit()


def get_project(company_id: str, project_id: str) -> Project | None:
    try:
        item = DirectoryItem.get(company_id, _sk("PROJECT", project_id), consistent_read=True)
    except DirectoryItem.DoesNotExist:
        return None
    return Project(
        project_id,
        company_id,
        item.name or "",
        item.description,
        item.pausedAt,
        item.createdAt,
    )


def list_projects(company_id: str) -> list[Project]:
    items = DirectoryItem.query(company_id, DirectoryItem.sk.startswith("PROJECT#"))
    projects = [
        Project(
            i.sk.split("#", 1)[1],
            company_id,
            i.name or "",
            i.description,
            i.pausedAt,
            i.createdAt,
        )
        for i in items
    ]
    return sorted(projects, key=lambda p: p.created_at)


def put_goal(goal: Goal) -> None:
    tx = Tx()
    tx.put(
        "goal",
        DirectoryItem(
            goal.company_id,
            _sk("GOAL", goal.id),
            title=goal.title,
            description=goal.description,
            createdAt=goal.created_at,
        ),
    )
    _with_ref(tx, goal.id, goal.company_id)
    tx.commit()


def get_goal(company_id: str, goal_id: str) -> Goal | None:
    try:
        item = DirectoryItem.get(company_id, _sk("GOAL", goal_id), consistent_read=True)
    except DirectoryItem.DoesNotExist:
        return None
    return Goal(goal_id, company_id, item.title or "", item.description, item.createdAt)


def list_goals(company_id: str) -> list[Goal]:
    items = DirectoryItem.query(company_id, DirectoryItem.sk.startswith("GOAL#"))
    goals = [Goal(i.sk.split("#", 1)[1], company_id, i.title or "", i.description, i.createdAt) for i in items]
    return sorted(goals, key=lambda g: g.created_at)


class IssueNumbers:
    """Hands out issue identifiers from blocks reserved with one atomic ADD, like a cached sequence.

    A dispatch then needs no extra request for its identifier; a process that dies leaves a gap.
    """

    def __init__(self, block: int = 20) -> None:
        self._block = block
        self._lock = threading.Lock()
        self._next: dict[str, tuple[str, int, int]] = {}

    def allocate(self, company_id: str) -> str:
        """`<prefix>-<number>` for a new issue of the company."""
        with self._lock:
            prefix, start, end = self._next.get(company_id, ("", 0, 0))
            if start >= end:
                prefix, end = _reserve(company_id, self._block)
                start = end - self._block
            self._next[company_id] = (prefix, start + 1, end)
            return f"{prefix}-{start + 1}"


def _reserve(company_id: str, count: int) -> tuple[str, int]:
    item = DirectoryItem(company_id, COMPANY)
    item.update(
        [DirectoryItem.issueCounter.add(count)],
        condition=DirectoryItem.companyId.exists(),
    )
    return item.issuePrefix or "ISS", int(item.issueCounter or 0)


ISSUE_NUMBERS = IssueNumbers()


def put_api_key(key_hash: str, prefix: str, principal: Principal, label: str | None, now: str) -> None:
    principal_id = principal.agent_id or f"board#{key_hash[:16]}"
    ApiKeyItem(
        key_hash,
        principalId=principal_id,
        kind="agent" if principal.is_agent else "board",
        agentId=principal.agent_id,
        companyId=principal.company_id,
        companyIds=set(principal.company_ids) if principal.company_ids else None,
        allCompanies=principal.company_ids is None and not principal.is_agent,
        label=label,
        prefix=prefix,
        createdAt=now,
    ).save(ApiKeyItem.keyHash.does_not_exist())


def get_principal(key_hash: str) -> Principal | None:
    """The principal of a live (not revoked) key."""
    try:
        item = ApiKeyItem.get(key_hash, consistent_read=True)
    except ApiKeyItem.DoesNotExist:
        return None
    if item.revokedAt:
        return None
    if item.kind == "agent":
        return Principal.for_agent(item.agentId or "", item.companyId or "", key_hash)
    companies = None if item.allCompanies else frozenset(item.companyIds or ())
    return Principal.for_board(companies, key_hash)


def revoke_api_key(key_hash: str, now: str) -> bool:
    """Revokes a key at once; False when there is no such key."""
    try:
        ApiKeyItem(key_hash).update([ApiKeyItem.revokedAt.set(now)], condition=ApiKeyItem.keyHash.exists())
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
