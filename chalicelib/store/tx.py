"""A TransactWriteItems whose items carry labels, so a cancellation names what failed."""

import random
import time
import uuid
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.store.errors import failed_items, is_transient
from chalicelib.store.tables import ClaimItem

_GROUPS = ("check", "delete", "put", "update")
_ATTEMPTS = 5


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
        self._items: dict[str, list[tuple[str, dict[str, Any]]]] = {group: [] for group in _GROUPS}

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._items["put"].append((label, item.get_save_kwargs_from_instance(condition=condition)))

    def update(
        self,
        label: str,
        item: Model,
        actions: list[Action],
        condition: Condition | None = None,
    ) -> None:
        kwargs = item.get_update_kwargs_from_instance(actions=actions, condition=condition, add_version_condition=False)
        self._items["update"].append((label, kwargs))

    def check(self, label: str, item: Model, condition: Condition) -> None:
        hash_keyname = item._hash_keyname
        assert hash_keyname
        kwargs = type(item).get_operation_kwargs_from_class(
            getattr(item, hash_keyname),
            range_key=_range_value(item),
            condition=condition,
        )
        self._items["check"].append((label, kwargs))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        kwargs = item.get_delete_kwargs_from_instance(condition=condition, add_version_condition=False)
        self._items["delete"].append((label, kwargs))

    def commit(self) -> None:
        """Commits, retrying transient conflicts; raises `TxCancelled` naming the failed conditions, if any."""
        for attempt in range(_ATTEMPTS):
            try:
                self._send()
                return
            except TransactWriteError as exc:
                if is_transient(exc) and attempt < _ATTEMPTS - 1:
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jitter: colliding writers spread out
                    continue
                if exc.cause_response_code != "TransactionCanceledException":
                    raise
                failed = self._failed_labels(exc)
                if not failed and is_transient(exc):
                    raise TxContended() from exc
                raise TxCancelled(failed) from exc

    def _send(self) -> None:
        connection = ClaimItem._get_connection().connection
        connection.transact_write_items(
            condition_check_items=[kwargs for _, kwargs in self._items["check"]],
            delete_items=[kwargs for _, kwargs in self._items["delete"]],
            put_items=[kwargs for _, kwargs in self._items["put"]],
            update_items=[kwargs for _, kwargs in self._items["update"]],
            # One token per attempt: botocore's own retries of an ambiguous send stay idempotent.
            client_request_token=str(uuid.uuid4()),
        )

    def _failed_labels(self, exc: TransactWriteError) -> set[str]:
        # pynamodb sends checks, deletes, puts, updates in that order: reasons follow it.
        labels = [label for group in _GROUPS for label, _ in self._items[group]]
        return {
            label for label, code in zip(labels, failed_items(exc), strict=False) if code == "ConditionalCheckFailed"
        }


def _range_value(item: Model) -> Any:
    name = item._range_keyname
    return getattr(item, name) if name else None
