"""A capacity model for AWS: 1,000,000 triggers due in one minute, from documented limits, our measured costs
and stated assumptions (each figure below says which it is)."""

import math
from dataclasses import dataclass
from typing import Any

TRIGGERS = 1_000_000

# Documented AWS limits (cited in RESULTS.md §9).
NEW_TABLE_WRITE_UNITS = 4_000  # a new on-demand table's warm throughput, write units/s (reads: 12,000)
TABLE_QUOTA_WRITE_UNITS = 40_000  # default per-table throughput quota, write units/s (raisable)
PARTITION_WRITE_UNITS = 1_000  # per partition (one partition key value at least), write units/s
PARTITION_READ_UNITS = 3_000
QUERY_PAGE_BYTES = 1_000_000  # a Query returns at most 1 MB per page
SEND_BATCH_MESSAGES = 10  # SendMessageBatch's limit
ACCOUNT_CONCURRENCY = 1_000  # Lambda's default concurrent executions per Region
POLLERS_START = 5  # SQS event source, standard queue: first concurrent batches
POLLERS_PER_MINUTE = 300  # and at most this many more each minute
POLLERS_MAX = 1_000  # concurrent batches of one event source mapping
LAMBDA_VCPU = 1024 / 1769  # at our 1,024 MB: one full vCPU comes at 1,769 MB

# Ours (chalicelib settings and .chalice/config.json).
TICK_BUDGET_SECONDS = 40
DISPATCH_THREADS = 16

# Assumptions (not measured here: no AWS account in this benchmark).
TRANSACTION_SECONDS = 0.015  # one TransactWriteItems of 8 items in-Region, 10-20 ms
SEND_SECONDS = 0.02  # one SendMessage(Batch) call
INDEX_ENTRY_BYTES = 100  # a keys-only `due` entry: id, dueShard, nextRunAt and overhead
TRANSACTION_UNITS_PER_ITEM = 2  # documented: a transactional write of an item up to 1 KB costs 2 write units
RESERVED_CONCURRENCY = 300  # dispatcher concurrency we would reserve, leaving the API the rest


@dataclass(frozen=True)
class Measured:
    """Per-dispatch and per-key costs measured by the burst on this machine."""

    write_units: float
    write_units_by_table: dict[str, float]  # indexes as `table/index`
    transaction_items_by_table: dict[str, int]
    tick_cpu_per_key: float  # seconds of the tick's CPU per due trigger (find, encode, enqueue)
    dispatch_cpu_per_run: float  # seconds of a dispatcher's CPU per run
    due_shards: int


def model(measured: Measured) -> dict[str, Any]:
    per_second = TRIGGERS / 60
    units = _units(measured)
    busiest, busiest_units = max(units.items(), key=lambda pair: pair[1])
    company_units = units["directory"]  # the agent checked, the activity shard written, 1 in 20 the counter
    per_instance = min(LAMBDA_VCPU / measured.dispatch_cpu_per_run, DISPATCH_THREADS / TRANSACTION_SECONDS)
    ceilings = {
        "newTables": NEW_TABLE_WRITE_UNITS / busiest_units,
        "tableQuota": TABLE_QUOTA_WRITE_UNITS / busiest_units,
        "dueIndexShards": measured.due_shards * PARTITION_WRITE_UNITS / units["triggers/due"],
        "oneCompany": PARTITION_WRITE_UNITS / company_units,
        "reservedConcurrency": RESERVED_CONCURRENCY * per_instance,
    }
    return {
        "triggers": TRIGGERS,
        "neededDispatchesPerSecond": round(per_second),
        "neededWriteUnitsPerSecond": round(per_second * sum(units.values())),
        "busiestTable": busiest,
        "busiestTableWriteUnitsPerDispatch": busiest_units,
        "modelWriteUnitsPerDispatch": round(sum(units.values()), 2),
        **_find(measured),
        **_enqueue(),
        "dispatchesPerSecondPerInstance": round(per_instance),
        "instancesForOneMinute": math.ceil(per_second / per_instance),
        "ceilingsDispatchesPerSecond": {name: round(value) for name, value in ceilings.items()},
        "minutes": _minutes(ceilings, per_instance),
    }


def _units(measured: Measured) -> dict[str, float]:
    """Write units per dispatch on each table and index (each has its own throughput): as measured, but never
    less than the documented 2 per transaction item (DynamoDB Local reports 2 for a table that got two items)."""
    units = dict(measured.write_units_by_table)
    for table, items in measured.transaction_items_by_table.items():
        extra = units.get(table, 0.0) % 1  # the counter's reservation, outside the transaction
        units[table] = max(units.get(table, 0.0), TRANSACTION_UNITS_PER_ITEM * items + extra)
    return units


def _find(measured: Measured) -> dict[str, Any]:
    per_shard = math.ceil(TRIGGERS / measured.due_shards)
    pages = math.ceil(per_shard * INDEX_ENTRY_BYTES / QUERY_PAGE_BYTES)
    read_units = math.ceil(per_shard * INDEX_ENTRY_BYTES / 4096 / 2)  # eventually consistent: 0.5 unit per 4 KB
    return {
        "findQueryPages": pages * measured.due_shards,
        "findReadUnitsPerShard": read_units,
        "findShardReadsWithinOnePartitionSecond": read_units <= PARTITION_READ_UNITS,
        "tickCpuSecondsOnLambda": round(TRIGGERS * measured.tick_cpu_per_key / LAMBDA_VCPU, 1),
    }


def _enqueue() -> dict[str, Any]:
    messages = math.ceil(TRIGGERS / 25)
    return {
        "messages": messages,
        "enqueueSecondsOneByOne": round(messages * SEND_SECONDS),
        "enqueueSecondsBatchedOn16Threads": round(messages / SEND_BATCH_MESSAGES * SEND_SECONDS / DISPATCH_THREADS, 1),
    }


def _minutes(ceilings: dict[str, float], per_instance: float) -> dict[str, float]:
    """Minutes to dispatch them all with the pollers' ramp, under each table ceiling (spread over many companies),
    and for a single company."""
    spread = min(ceilings["dueIndexShards"], ceilings["reservedConcurrency"])
    return {
        "newTables": _drain(min(ceilings["newTables"], spread), per_instance),
        "tableQuota": _drain(min(ceilings["tableQuota"], spread), per_instance),
        "oneCompany": _drain(min(ceilings["oneCompany"], spread), per_instance),
    }


def _drain(ceiling: float, per_instance: float) -> float:
    """Minutes until TRIGGERS are dispatched at min(ceiling, pollers * per_instance), second by second."""
    done, second = 0.0, 0
    while done < TRIGGERS:
        ramp = POLLERS_START + POLLERS_PER_MINUTE * second / 60
        pollers = min(ramp, POLLERS_MAX, RESERVED_CONCURRENCY, ACCOUNT_CONCURRENCY)
        done += min(ceiling, pollers * per_instance)
        second += 1
    return round(second / 60, 1)
