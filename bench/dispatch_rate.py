"""2. Dispatch vs raw engine: runs per second through the tick's dispatch, against bare TransactWriteItems.

The raw side replays the very transactions a dispatch sent (same items, same conditions, same sizes),
rebound to a fresh, identical population so every condition holds, on the tick's pool. A third
measurement sends the dispatch's whole request mix raw (GetItem trigger, GetItem routine, the
transaction): the gap between it and the dispatch is our code, the gap between it and the bare
transactions is the number of requests.
"""

import json
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.dynamo import recorded_transactions, transaction_client, write_all
from bench.fixtures import Population, Tenant, make_tenant, population
from bench.stats import median, ratio, timed
from chalicelib import runtime
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services.scheduler import default_pool, dispatch_all
from chalicelib.store.tables import RoutineItem, TriggerItem

DISPATCH_AT = datetime(2093, 1, 1, 0, 0, 30, tzinfo=UTC)
DUE_AT = "2093-01-01T00:00:00.000Z"  # the dispatch advances these to 2094
_PLACEHOLDERS = ("{{routine}}", "{{trigger}}", "{{issue}}", "{{run}}")
_KINDS = ("dispatch", "rawTransactions", "rawRequestMix")


@dataclass(frozen=True)
class Sizes:
    triggers: int = 1_000
    reps: int = 3
    blocks: int = 4


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench dispatch")
    with default_pool() as pool:
        shapes = _dispatch_shapes(tenant, sizes.triggers, pool)
        reps = [_rep(tenant, sizes.triggers, shapes, pool, sizes.blocks) for _ in range(sizes.reps)]
    rates = {kind: [sizes.triggers / rep[kind] for rep in reps] for kind in _KINDS}
    paired = [ratio(d, r) for d, r in zip(rates["dispatch"], rates["rawTransactions"], strict=True)]
    to_mix = [ratio(d, r) for d, r in zip(rates["dispatch"], rates["rawRequestMix"], strict=True)]
    mix_to_bare = [ratio(m, r) for m, r in zip(rates["rawRequestMix"], rates["rawTransactions"], strict=True)]
    result = median(paired)
    return {
        "benchmark": "dispatch_vs_raw",
        "dueTriggers": sizes.triggers,
        "workers": pool._max_workers,
        "itemsPerTransaction": len(json.loads(shapes[0])),
        "dispatchRunsPerSecond": round(median(rates["dispatch"]), 1),
        "rawTransactionsPerSecond": round(median(rates["rawTransactions"]), 1),
        "rawRequestMixPerSecond": round(median(rates["rawRequestMix"]), 1),
        "ratio": result,
        "pairedRatios": paired,
        "ratioToRawRequestMix": median(to_mix),
        "rawRequestMixToBareRatio": median(mix_to_bare),
        "targets": {"ratio>=0.7": result >= 0.7},
    }


def _dispatch_shapes(tenant: Tenant, size: int, pool: Executor) -> list[str]:
    """An untimed dispatch whose transactions become the raw side's templates (it also warms the engine)."""
    warm = _loaded(tenant, size, pool)
    with recorded_transactions() as sent:
        _dispatch(warm, pool)
    return [_template(params) for params in sent]


def _rep(tenant: Tenant, size: int, shapes: list[str], pool: Executor, blocks: int) -> dict[str, float]:
    """Seconds of each kind over `size` firings, interleaved in blocks so a busy neighbour slows all kinds alike."""
    seconds = dict.fromkeys(_KINDS, 0.0)
    step = max(size // blocks, 1)
    for index, start in enumerate(range(0, size, step)):
        work = _block(tenant, min(step, size - start), shapes[start : start + step], pool)
        order = _KINDS[index % 3 :] + _KINDS[: index % 3]
        for kind in order:
            seconds[kind] += timed(work[kind])
    return seconds


def _block(tenant: Tenant, size: int, shapes: list[str], pool: Executor) -> dict[str, Callable[[], None]]:
    """Each kind's work on its own fresh, identical population of `size` due triggers."""
    fired, bare, mixed = (_loaded(tenant, size, pool) for _ in _KINDS)
    return {
        "dispatch": lambda: _dispatch(fired, pool),
        "rawTransactions": _replayer(_rebound(shapes, bare), pool, with_reads=False),
        "rawRequestMix": _replayer(_rebound(shapes, mixed), pool, with_reads=True),
    }


def _loaded(tenant: Tenant, size: int, pool: Executor) -> Population:
    fresh = population(tenant, size, DUE_AT)
    write_all(fresh.routines, pool)
    write_all(fresh.triggers, pool)
    return fresh


def _dispatch(fresh: Population, pool: Executor) -> None:
    outcomes = dispatch_all(fresh.trigger_ids, frozen_at(DISPATCH_AT), runtime.new_id, pool)
    created = sum(outcome.runs["issue_created"] for outcome in outcomes)
    if created != len(fresh.triggers):
        raise RuntimeError(f"dispatch created {created} runs for {len(fresh.triggers)} due triggers")


def _ids(params: dict[str, Any]) -> tuple[str, ...]:
    """(routine, trigger, issue, run) ids of one dispatch transaction."""
    found = {}
    for entry in params["TransactItems"]:
        ((action, body),) = entry.items()
        table = body["TableName"].rsplit("-", 1)[-1]
        key = body["Item"] if action == "Put" else body["Key"]
        if table in ("routines", "triggers", "issues", "runs"):
            found[table] = key["id"]["S"]
    return found["routines"], found["triggers"], found["issues"], found["runs"]


def _template(params: dict[str, Any]) -> str:
    """The transaction as JSON text whose routine, trigger, issue and run ids are placeholders."""
    text = json.dumps(params["TransactItems"])
    for old, placeholder in zip(_ids(params), _PLACEHOLDERS, strict=True):
        text = text.replace(old, placeholder)
    return text


Firing = tuple[str, str, dict[str, Any]]


def _rebound(shapes: list[str], fresh: Population) -> list[Firing]:
    """(routine id, trigger id, the same transaction for them with new issue and run ids: same sizes)."""
    return [
        (trigger.routineId, trigger.id, _rebind(shape, trigger.routineId, trigger.id))
        for shape, trigger in zip(shapes, fresh.triggers, strict=True)
    ]


def _rebind(template: str, routine: str, trigger: str) -> dict[str, Any]:
    for placeholder, value in zip(_PLACEHOLDERS, (routine, trigger, runtime.new_id(), runtime.new_id()), strict=True):
        template = template.replace(placeholder, value)
    return {"TransactItems": json.loads(template), "ClientRequestToken": str(uuid.uuid4())}


def _replayer(firings: list[Firing], pool: Executor, with_reads: bool) -> Callable[[], None]:
    """Sends each transaction (after the dispatch's two consistent reads, `with_reads`) on the pool."""
    client = transaction_client()
    triggers, routines = (model._get_connection().connection.client for model in (TriggerItem, RoutineItem))

    def send(firing: Firing) -> None:
        routine_id, trigger_id, params = firing
        if with_reads:
            _get(triggers, TriggerItem, trigger_id)
            _get(routines, RoutineItem, routine_id)
        client.transact_write_items(**params)

    def replay() -> None:
        for _ in pool.map(send, firings):
            pass

    return replay


def _get(client: Any, model: Any, item_id: str) -> None:
    client.get_item(TableName=model.Meta.table_name, Key={"id": {"S": item_id}}, ConsistentRead=True)
