"""Wake-ups: the issue images a stream change carries, the agent's wake secret, and each wake's outcome."""

from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.domain.models import Agent, Issue, Wake
from chalicelib.store.errors import is_condition_failure
from chalicelib.store.mapping import from_item, set_or_remove
from chalicelib.store.tables import DirectoryItem, IssueItem, WakeItem, read

Image = dict[str, Any]


def issue_of_image(image: Image | None) -> Issue | None:
    """The issue a stream record's image (DynamoDB JSON) holds."""
    return from_item(Issue, IssueItem.from_raw_data(image)) if image else None


def wake_target(company_id: str, agent_id: str) -> tuple[Agent, str | None] | None:
    """The agent and its wake secret (never part of the `Agent` value: it is shown once)."""
    item = read(DirectoryItem, company_id, f"AGENT#{agent_id}")
    if item is None:
        return None
    return from_item(Agent, item, id=agent_id), item.wakeSecret


def set_wake_secret(agent: Agent, secret: str, now: str, *, only_if_absent: bool) -> bool:
    """Stores the agent's wake secret; with `only_if_absent`, False when it already has one."""
    condition = DirectoryItem.sk.exists()
    if only_if_absent:
        condition &= DirectoryItem.wakeSecret.does_not_exist()
    try:
        DirectoryItem(agent.company_id, f"AGENT#{agent.id}").update(
            [DirectoryItem.wakeSecret.set(secret), DirectoryItem.updatedAt.set(now)], condition=condition
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def get_wake(issue_id: str, wake_id: str) -> Wake | None:
    item = read(WakeItem, issue_id, wake_id)
    return from_item(Wake, item) if item else None


def list_wakes(issue_id: str) -> list[Wake]:
    """An issue's wakes, oldest first."""
    return sorted((from_item(Wake, item) for item in WakeItem.query(issue_id)), key=lambda wake: wake.created_at)


def record_attempt(wake: Wake) -> Wake:
    """Counts one more attempt and stores its outcome; the first attempt's time stays the wake's `createdAt`."""
    item = WakeItem(wake.issue_id, wake.id)
    item.update(
        [
            WakeItem.agentId.set(wake.agent_id),
            WakeItem.reason.set(wake.reason),
            WakeItem.status.set(wake.status),
            WakeItem.attempts.add(1),
            WakeItem.createdAt.set(WakeItem.createdAt | wake.created_at),
            WakeItem.updatedAt.set(wake.updated_at),
            set_or_remove(WakeItem.lastError, wake.last_error),
            set_or_remove(WakeItem.responseStatus, wake.response_status),
            set_or_remove(WakeItem.deliveredAt, wake.delivered_at),
        ]
    )
    return from_item(Wake, item)
