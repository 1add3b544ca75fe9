"""Companies, agents, projects, goals and API keys."""

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from pynamodb.exceptions import UpdateError

from chalicelib.domain.models import (
    Agent,
    Company,
    Goal,
    Principal,
    Project,
)
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.mapping import from_item, set_or_remove, to_item
from chalicelib.store.tables import ApiKeyItem, ClaimItem, DirectoryItem, read, read_many
from chalicelib.store.tx import Tx

COMPANY = "COMPANY"
AnyMember = Agent | Project | Goal
Member = TypeVar("Member", bound=AnyMember)
_KIND = {Agent: "AGENT", Project: "PROJECT", Goal: "GOAL"}


def _sk(cls: type, entity_id: str) -> str:
    return f"{_KIND[cls]}#{entity_id}"


def owner_of(entity_id: str) -> str | None:
    """The company that owns an agent, project or goal id."""
    ref = read(ClaimItem, f"ref#{entity_id}")
    return ref.companyId if ref else None


def put_company(company: Company) -> None:
    item = to_item(DirectoryItem, company, companyId=company.id, sk=COMPANY, issueCounter=0)
    item.save(DirectoryItem.companyId.does_not_exist())


def get_company(company_id: str) -> Company | None:
    item = read(DirectoryItem, company_id, COMPANY)
    return _company(item) if item else None


def list_companies(company_ids: frozenset[str] | None) -> list[Company]:
    """Every company (an operator's listing: a Scan of the small directory), or the given ones."""
    if company_ids is None:
        items: Iterable[DirectoryItem] = DirectoryItem.scan(DirectoryItem.sk == COMPANY)
    else:
        items = DirectoryItem.batch_get([(cid, COMPANY) for cid in company_ids])
    return sorted((_company(item) for item in items), key=lambda c: c.created_at)


def _company(item: DirectoryItem) -> Company:
    return from_item(Company, item, id=item.companyId)


def put_member(member: Agent | Project | Goal) -> None:
    """Creates an agent, project or goal with the `ref#` item that finds its company from its id alone."""
    tx = Tx()
    tx.put("member", to_item(DirectoryItem, member, sk=_sk(type(member), member.id)), DirectoryItem.sk.does_not_exist())
    ref = ClaimItem(f"ref#{member.id}", targetId=member.id, companyId=member.company_id)
    tx.put("ref", ref, ClaimItem.key.does_not_exist())
    tx.commit()


def get_member(cls: type[Member], company_id: str, entity_id: str) -> Member | None:
    """The company's agent, project or goal with this id."""
    item = read(DirectoryItem, company_id, _sk(cls, entity_id))
    return _member(cls, item) if item else None


def get_members(company_id: str, wanted: Iterable[tuple[type[AnyMember], str]]) -> list[AnyMember]:
    """These agents, projects or goals of the company (`(kind, id)` pairs), read consistently in one batch."""
    kinds = {_sk(cls, entity_id): cls for cls, entity_id in wanted}
    if not kinds:
        return []
    return _members(kinds, read_many(DirectoryItem, [(company_id, sk) for sk in kinds]))


def get_company_with(
    company_id: str, wanted: Iterable[tuple[type[AnyMember], str]]
) -> tuple[Company | None, list[AnyMember]]:
    """The company and these of its agents, projects or goals, read consistently in one request."""
    kinds = {_sk(cls, entity_id): cls for cls, entity_id in wanted}
    if not kinds:
        return get_company(company_id), []
    items = read_many(DirectoryItem, [(company_id, COMPANY), *((company_id, sk) for sk in kinds)])
    company = next((_company(item) for item in items if item.sk == COMPANY), None)
    return company, _members(kinds, [item for item in items if item.sk != COMPANY])


def _members(kinds: dict[str, type[AnyMember]], items: Iterable[DirectoryItem]) -> list[AnyMember]:
    return [_member(kinds[item.sk], item) for item in items]


def list_members(cls: type[Member], company_id: str) -> list[Member]:
    """The company's agents, projects or goals, oldest first."""
    items = DirectoryItem.query(company_id, DirectoryItem.sk.startswith(f"{_KIND[cls]}#"))
    return sorted((_member(cls, item) for item in items), key=lambda member: member.created_at)


def _member(cls: type[Member], item: DirectoryItem) -> Member:
    return from_item(cls, item, id=item.sk.split("#", 1)[1])


def set_project_pause(project: Project) -> None:
    """Writes a project's `pausedAt` and `pauseReason` (both removed on resume)."""
    item = DirectoryItem(project.company_id, _sk(Project, project.id))
    item.update(
        [
            set_or_remove(DirectoryItem.pausedAt, project.paused_at),
            set_or_remove(DirectoryItem.pauseReason, project.pause_reason),
        ],
        condition=DirectoryItem.sk.exists(),
    )


def paused_projects(projects: set[tuple[str, str]]) -> frozenset[str]:
    """Which of these (company id, project id) projects are paused: consistent batches of a hundred."""
    items = read_many(DirectoryItem, [(company_id, _sk(Project, project_id)) for company_id, project_id in projects])
    return frozenset(item.sk.split("#", 1)[1] for item in items if item.pausedAt)


def update_agent(agent: Agent) -> None:
    """Writes what a board key may change of an agent: its status and adapter."""
    item = DirectoryItem(agent.company_id, _sk(Agent, agent.id))
    item.update(
        [
            DirectoryItem.status.set(agent.status),
            set_or_remove(DirectoryItem.adapterType, agent.adapter_type),
            set_or_remove(DirectoryItem.adapterConfig, agent.adapter_config),
            DirectoryItem.updatedAt.set(agent.updated_at),
        ],
        condition=DirectoryItem.sk.exists(),
    )
    # A terminated agent's keys stop working in this process at once (in others within `PRINCIPALS`' bound).
    PRINCIPALS.forget(lambda principal: principal.agent_id == agent.id)


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


def put_api_key(key_hash: str, key_id: str, prefix: str, principal: Principal, label: str | None, now: str) -> None:
    """Stores a key by its hash, with the `key#<id>` item that finds it from its public id (for revocation)."""
    principal_id = principal.agent_id or f"board#{key_hash[:16]}"
    item = ApiKeyItem(
        key_hash,
        keyId=key_id,
        principalId=principal_id,
        kind="agent" if principal.is_agent else "board",
        agentId=principal.agent_id,
        companyId=principal.company_id,
        companyIds=set(principal.company_ids) if principal.company_ids else None,
        allCompanies=principal.company_ids is None and not principal.is_agent,
        label=label,
        prefix=prefix,
        createdAt=now,
    )
    tx = Tx()
    tx.put("key", item, ApiKeyItem.keyHash.does_not_exist())
    tx.put(
        "lookup",
        ClaimItem(f"key#{key_id}", targetId=key_hash, companyId=principal.company_id),
        ClaimItem.key.does_not_exist(),
    )
    tx.commit()


def agent_key_hash(agent_id: str, key_id: str) -> str | None:
    """The hash of the agent's key with this id (read consistently), or None when the agent has no such key."""
    lookup = read(ClaimItem, f"key#{key_id}")
    item = read(ApiKeyItem, lookup.targetId) if lookup and lookup.targetId else None
    return item.keyHash if item and item.agentId == agent_id else None


def get_principal(key_hash: str) -> Principal | None:
    """The principal of a live (not revoked) key."""
    item = read(ApiKeyItem, key_hash)
    if item is None or item.revokedAt:
        return None
    if item.kind == "agent":
        return Principal.for_agent(item.agentId or "", item.companyId or "", key_hash)
    companies = None if item.allCompanies else frozenset(item.companyIds or ())
    return Principal.for_board(companies, key_hash)


def revoke_api_key(key_hash: str, now: str) -> bool:
    """Revokes a key (this process forgets it at once, others within `PRINCIPALS`' bound); False when there is
    no such key."""
    try:
        ApiKeyItem(key_hash).update([ApiKeyItem.revokedAt.set(now)], condition=ApiKeyItem.keyHash.exists())
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    finally:
        PRINCIPALS.forget(lambda principal: principal.key_hash == key_hash)
    return True


class Principals:
    """The principals of keys this process authenticated, each answered from memory for `seconds` after it
    was read, so a warm key costs no request. That is the bound on a revocation or an agent's termination
    made by another process; this process's own `revoke_api_key` and `update_agent` forget at once.

    A read that began before a forget is not kept, so a key revoked here is never kept again from a stale read.
    At most `capacity` keys are kept (the oldest go first).
    """

    def __init__(self, seconds: int = 0, capacity: int = 10_000) -> None:
        self._seconds, self._capacity = seconds, capacity
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[Principal, datetime]] = {}
        self._forgets = 0

    def configure(self, seconds: int) -> None:
        with self._lock:
            self._seconds = seconds
            self._kept.clear()
            self._forgets += 1

    def lookup(self, key_hash: str, now: datetime, load: Callable[[], Principal | None]) -> Principal | None:
        """The principal kept for `key_hash` until its time is up, or else what `load` reads (kept if live)."""
        with self._lock:
            kept = self._kept.get(key_hash)
            if kept and now < kept[1]:
                return kept[0]
            forgets = self._forgets
        principal = load()
        with self._lock:
            if principal and self._seconds > 0 and forgets == self._forgets:
                self._kept.pop(key_hash, None)
                while len(self._kept) >= self._capacity:
                    del self._kept[next(iter(self._kept))]
                self._kept[key_hash] = (principal, now + timedelta(seconds=self._seconds))
        return principal

    def forget(self, which: Callable[[Principal], bool]) -> None:
        """Drops the kept principals `which` picks, and any read under way."""
        with self._lock:
            self._kept = {key: kept for key, kept in self._kept.items() if not which(kept[0])}
            self._forgets += 1


PRINCIPALS = Principals()
