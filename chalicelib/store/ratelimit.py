"""Fixed-window hit counters in the claims table; DynamoDB's TTL removes old windows.

A hit is added by a conditional update that refuses to take a window past its limit, so the limit holds under
any concurrency: a dispatch transaction carries its delivery's hits (`add_hits`), a delivery that dispatched
nothing sends them on their own (`count_hits`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.expressions.update import Action

from chalicelib.domain.models import Trigger
from chalicelib.store.routines import public_key, webhook_trigger
from chalicelib.store.tables import ClaimItem, read_many
from chalicelib.store.tx import Tx, TxCancelled


@dataclass(frozen=True)
class Window:
    """One window's counter (`rate#…`): a hit may raise it up to `limit`."""

    key: str
    limit: int
    expires_at: int


class WindowFull(Exception):
    """A window was at its limit: the hit was not added (nor were the others sent with it)."""

    def __init__(self, window: Window) -> None:
        super().__init__(window.key)
        self.window = window


@dataclass(frozen=True)
class DeliveryReads:
    """What one BatchGetItem tells of a delivery: the webhook trigger its public id finds, its windows' hits."""

    trigger: Trigger | None
    hits: dict[str, int]


def read_delivery(public_id: str | None, windows: Sequence[Window]) -> DeliveryReads:
    """The trigger of `public_id` (None: not a public id) and the windows' counts, in one consistent batch."""
    lookup = public_key(public_id) if public_id else None
    items = read_many(ClaimItem, [window.key for window in windows] + ([lookup] if lookup else []))
    found = {item.key: item for item in items}
    trigger = webhook_trigger(found[lookup]) if lookup in found else None
    hits = {window.key: int(found[window.key].hits or 0) for window in windows if window.key in found}
    return DeliveryReads(trigger, hits)


def add_hits(tx: Tx, windows: Sequence[Window]) -> None:
    """Adds one hit to each window with the transaction, which a full window cancels (labelled by its key)."""
    for window in windows:
        room = ClaimItem.hits.does_not_exist() | (ClaimItem.hits < window.limit)
        actions: list[Action] = [ClaimItem.hits.add(1), ClaimItem.expiresAt.set(window.expires_at)]
        tx.update(window.key, ClaimItem(window.key), actions, room)


def count_hits(windows: Sequence[Window]) -> None:
    """Adds one hit to every window or to none, in one transaction; `WindowFull` names a full one."""
    tx = Tx()
    add_hits(tx, windows)
    try:
        tx.commit()
    except TxCancelled as exc:
        raise_full(exc.failed, windows)
        raise


def raise_full(failed: set[str], windows: Sequence[Window]) -> None:
    """`WindowFull` for the first of `windows` among a cancelled transaction's failed labels, if any."""
    for window in windows:
        if window.key in failed:
            raise WindowFull(window)
