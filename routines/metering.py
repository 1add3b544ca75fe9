"""Counts the DynamoDB requests this process sends, by operation (for tests and benchmarks)."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.store.tables import ALL_TABLES


@contextmanager
def counting_requests() -> Iterator[Counter[str]]:
    """Yields a Counter of operation names (`GetItem`, `TransactWriteItems`, ...) sent meanwhile."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    # Each pynamodb model holds its own botocore client: hook every one of them.
    clients = {id(client): client for client in (m._get_connection().connection.client for m in ALL_TABLES)}
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", count, unique_id="routines-metering")
    try:
        yield counter
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-call.dynamodb", unique_id="routines-metering")
