"""A TransactWriteItems whose items carry labels, so a cancellation names what failed.

Built on pynamodb's `TransactWrite`. It sends items grouped as condition checks, deletes, puts, updates (not in
call order; see `Connection.transact_write_items`), and cancellation reasons follow the sent order, so labels
are matched to reasons in that grouped order. How often a commit is tried is in `store/retries.py`.
"""

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.store.errors import failed_items, is_transient
from chalicelib.store.retries import COMMIT_ATTEMPTS
from chalicelib.store.tables import ClaimItem

_GROUPS = ("check", "delete", "put", "update")
MAX_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""
_Write = Callable[[TransactWrite], None]


class TxCancelled(Exception):
    """The transaction was cancelled because of the conditions of the labelled items."""

    def __init__(self, failed: set[str]) -> None:
        super().__init__(", ".join(sorted(failed)))
        self.failed = failed


class TxContended(TxCancelled):
    """Concurrent transactions on the same items kept cancelling this one; no condition failed."""

    def __init__(self) -> None:
        super().__init__(set())


class Tx:
    """Collects labelled writes; `commit` sends them as one transaction."""

    def __init__(self) -> None:
        self._writes: dict[str, list[tuple[str, _Write]]] = {group: [] for group in _GROUPS}

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._add("put", label, lambda tx: tx.save(item, condition))

    def update(self, label: str, item: Model, actions: list[Action], condition: Condition | None = None) -> None:
        self._add("update", label, lambda tx: tx.update(item, actions, condition, add_version_condition=False))

    def check(self, label: str, item: Model, condition: Condition) -> None:
        hash_key, range_key = _key(item)
        self._add("check", label, lambda tx: tx.condition_check(type(item), hash_key, range_key, condition))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._add("delete", label, lambda tx: tx.delete(item, condition, add_version_condition=False))

    def _add(self, group: str, label: str, write: _Write) -> None:
        self._writes[group].append((label, write))

    def __len__(self) -> int:
        return sum(len(writes) for writes in self._writes.values())

    def commit(self) -> None:
        """Commits, retrying transient conflicts; raises `TxCancelled` naming the failed conditions, if any."""
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self._send()
                return
            except TransactWriteError as exc:
                if is_transient(exc) and attempt < COMMIT_ATTEMPTS - 1:
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jitter: colliding writers spread out
                    continue
                if exc.cause_response_code != "TransactionCanceledException":
                    raise
                failed = self._failed_labels(exc)
                if not failed and is_transient(exc):
                    raise TxContended() from exc
                raise TxCancelled(failed) from exc

    def _send(self) -> None:
        # One token per attempt: botocore's own retries of an ambiguous send stay idempotent.
        with TransactWrite(connection=_connection(), client_request_token=str(uuid.uuid4())) as tx:
            for group in _GROUPS:
                for _, write in self._writes[group]:
                    write(tx)

    def _failed_labels(self, exc: TransactWriteError) -> set[str]:
        labels = [label for group in _GROUPS for label, _ in self._writes[group]]
        return {
            label for label, code in zip(labels, failed_items(exc), strict=False) if code == "ConditionalCheckFailed"
        }


def _key(item: Model) -> tuple[Any, Any]:
    """The item's hash and range key values, found through its attributes' public key flags."""
    attributes = type(item).get_attributes()
    hash_key = next(getattr(item, name) for name, attribute in attributes.items() if attribute.is_hash_key)
    range_key = next((getattr(item, name) for name, attribute in attributes.items() if attribute.is_range_key), None)
    return hash_key, range_key


def _connection() -> Connection:
    """The connection the models use, made from their `Meta` on first use (never at import).

    The one private access: pynamodb has no public accessor for a model's connection. A `Connection` of our
    own built from `ClaimItem.Meta` would hold a second botocore client and pool, and the request hooks that
    tests, `routines.metering` and the bench register on the models' clients would no longer see transactions.
    """
    return ClaimItem._get_connection().connection
