"""API keys and who may do what."""

import functools
import hashlib
import secrets
from datetime import datetime

from chalicelib.domain.errors import Forbidden, Unauthorized
from chalicelib.domain.models import Agent, AgentStatus, Principal, Routine
from chalicelib.store import directory

AGENT_KEY_PREFIX = "rk_agent_"
BOARD_KEY_PREFIX = "rk_board_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """A key's public id: part of a hash of its hash, so it names the key without revealing anything of it."""
    return hash_key(hash_key(key))[:24]


def issue_key(principal_template: Principal, label: str | None, now: str) -> str:
    """Creates a key for an agent or a board and returns it: the only time it is ever seen."""
    prefix = AGENT_KEY_PREFIX if principal_template.is_agent else BOARD_KEY_PREFIX
    key = prefix + secrets.token_urlsafe(32)
    directory.put_api_key(hash_key(key), key_id(key), prefix, principal_template, label, now)
    return key


def authenticate(authorization: str | None, now: datetime) -> Principal:
    """The principal of a `Bearer` key; 401 for a missing, unknown or revoked key, or a terminated agent's
    (another process's revocation or termination takes effect here within `PRINCIPALS`' bound)."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.startswith((AGENT_KEY_PREFIX, BOARD_KEY_PREFIX)):
        raise Unauthorized("Unauthorized")
    key_hash = hash_key(key.strip())
    principal = directory.PRINCIPALS.lookup(key_hash, now, functools.partial(_live, key_hash))
    if principal is None:
        raise Unauthorized("Unauthorized")
    return principal


def _live(key_hash: str) -> Principal | None:
    """The key's principal as stored, if the key is live and not a terminated agent's."""
    principal = directory.get_principal(key_hash)
    if principal is None or (principal.is_agent and _terminated(principal)):
        return None
    return principal


def _terminated(agent: Principal) -> bool:
    """A terminated (or deleted) agent's keys stop working at once; a paused agent keeps read access."""
    found = directory.get_member(Agent, agent.company_id or "", agent.agent_id or "")
    return found is None or found.status == AgentStatus.terminated


def require_company(principal: Principal, company_id: str) -> None:
    if not principal.can_access(company_id):
        who = "Agent key" if principal.is_agent else "Board key"
        raise Forbidden(f"{who} cannot access another company")


def require_agent(principal: Principal) -> tuple[str, str]:
    """The calling agent's id and company; 401 for a board key."""
    if not principal.is_agent or not principal.agent_id or not principal.company_id:
        raise Unauthorized("Agent authentication required")
    return principal.agent_id, principal.company_id


def require_board(principal: Principal) -> None:
    if principal.is_agent:
        raise Forbidden("Board access required")


def require_manage(principal: Principal, routine: Routine) -> None:
    """Agents manage only the routines assigned to themselves; boards manage their companies'."""
    require_company(principal, routine.company_id)
    if principal.is_agent and routine.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only manage routines assigned to themselves")
