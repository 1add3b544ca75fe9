"""What the code asks of DynamoDB: requests counted by operation, and what queries read.

pynamodb gives every model class its own botocore client, so the hooks go on all of them.
"""

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pynamodb.models import Model

from chalicelib.store.tables import ALL_TABLES, ClaimItem

_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_BATCH = 25  # BatchWriteItem's limit


@dataclass
class Tally:
    """Requests by operation; items returned and scanned, and capacity units, as DynamoDB reports them."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    items_scanned: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    write_units_by_table: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def clients() -> list[Any]:
    """The botocore clients of the tables, each once (they share one: `store.tables.bind`)."""
    found = {id(client): client for client in (model._get_connection().connection.client for model in ALL_TABLES)}
    return list(found.values())


class Meter:
    """Counts every DynamoDB request made while it is active (all threads); asks each for its capacity."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._lock = threading.Lock()

    def __enter__(self) -> "Meter":
        for client in clients():
            events = client.meta.events
            events.register("before-parameter-build.dynamodb", self._ask_capacity, "bench-capacity")
            events.register("before-call.dynamodb", self._count, "bench-count")
            events.register("after-call.dynamodb", self._read_response, "bench-response")
        return self

    def __exit__(self, *_: object) -> None:
        for client in clients():
            events = client.meta.events
            events.unregister("before-parameter-build.dynamodb", self._ask_capacity, "bench-capacity")
            events.unregister("before-call.dynamodb", self._count, "bench-count")
            events.unregister("after-call.dynamodb", self._read_response, "bench-response")

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"  # the same total, with each table's and index's share

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.tally.requests[model.name] += 1

    def _read_response(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        parts = _as_list(parsed.get("ConsumedCapacity") or [])
        units = sum(part.get("CapacityUnits", 0.0) for part in parts)
        with self._lock:
            self.tally.items_read += parsed.get("Count", 0)
            self.tally.items_scanned += parsed.get("ScannedCount", 0)
            if model.name in _READS:
                self.tally.read_units += units
                return
            self.tally.write_units += units
            for part in parts:
                table = part.get("TableName", "?")
                self.tally.write_units_by_table[table] += part.get("Table", {}).get("CapacityUnits", 0.0)
                for index, used in part.get("GlobalSecondaryIndexes", {}).items():
                    self.tally.write_units_by_table[f"{table}/{index}"] += used.get("CapacityUnits", 0.0)


def _as_list(consumed: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return consumed if isinstance(consumed, list) else [consumed]


@contextmanager
def recorded_transactions() -> Iterator[list[dict[str, Any]]]:
    """The parameters of every TransactWriteItems sent meanwhile, as built (kept by reference: cheap)."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    events = transaction_client().meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", record, "bench-record")
    try:
        yield sent
    finally:
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", record, "bench-record")


def transaction_client() -> Any:
    """The client `store.tx` sends transactions with."""
    return ClaimItem._get_connection().connection.client


def write_all(items: Sequence[Model], pool: Executor, delete: bool = False) -> None:
    """BatchWriteItem in parallel: 25 items a request, one batch per chunk of 500."""
    chunks = [items[start : start + 20 * _BATCH] for start in range(0, len(items), 20 * _BATCH)]
    for _ in pool.map(lambda chunk: _write(chunk, delete), chunks):
        pass


def _write(chunk: Iterable[Model], delete: bool) -> None:
    chunk = list(chunk)
    if not chunk:
        return
    with type(chunk[0]).batch_write() as batch:
        for item in chunk:
            if delete:
                batch.delete(item)
            else:
                batch.save(item)
