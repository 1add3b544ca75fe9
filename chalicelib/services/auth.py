"""API keys and who may do what."""

import hashlib
import secrets

from chalicelib.domain.errors import Forbidden, Unauthorized
from chalicelib.domain.models import Principal, Routine
from chalicelib.store import directory

AGENT_KEY_PREFIX = "rk_agent_"
BOARD_KEY_PREFIX = "rk_board_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(principal_template: Principal, label: str | None, now: str) -> str:
    """Creates a key for an agent or a board and returns it: the only time it is ever seen."""
    prefix = AGENT_KEY_PREFIX if principal_template.is_agent else BOARD_KEY_PREFIX
    key = prefix + secrets.token_urlsafe(32)
    directory.put_api_key(hash_key(key), prefix, principal_template, label, now)
    return key


def authenticate(authorization: str | None) -> Principal:
    """The principal of a `Bearer` key; 401 for a missing, unknown or revoked key."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.startswith((AGENT_KEY_PREFIX, BOARD_KEY_PREFIX)):
        raise Unauthorized("Unauthorized")
    principal = directory.get_principal(hash_key(key.strip()))
    if principal is None:
        raise Unauthorized("Unauthorized")
    return principal


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
