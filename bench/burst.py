"""7. A burst: 20,000 triggers due in the same minute, dispatched through the queue path by 1, 2 and 4 processes.

As on AWS: one tick (`scheduler.tick` with a `send_batch` and a budget of 0) finds the due triggers and queues
them in batches of 25, each encoded with `queue.encode_message`, onto a local multiprocessing queue; each dispatcher
process does what the SQS `dispatch` handler does per message (`decode_message`, then `dispatch_all` on its own
pool of 16 threads), against the one DynamoDB Local. Each process count gets a fresh population (its own company,
routines and triggers) due at its own slot, and afterwards a scan of the runs counts the runs of every trigger.

The slots are 1 January of 2089, 2088, 2087, in that order: a yearly trigger advances to the next year, which
is after every later slot. A first tick at the latest slot dispatches whatever else the database holds due
then (other benchmarks', other tests'), so each burst's tick finds its own population only.
"""

import multiprocessing
import os
import queue
import resource
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from bench import capacity
from bench.database import process_cpu
from bench.dynamo import Meter, recorded_transactions, write_all
from bench.fixtures import Population, make_tenant, population
from bench.stats import median, ratio
from chalicelib import runtime
from chalicelib.domain.timefmt import frozen_at, to_iso
from chalicelib.queue import Message, decode_message, encode_message
from chalicelib.services.scheduler import BATCH_SIZE, default_pool, dispatch_all, tick
from chalicelib.store.routines import all_due_shards
from chalicelib.store.tables import ALL_TABLES, RunItem, name_of

LATEST_SLOT = 2089
SAMPLE_SLOT = datetime(2090, 1, 1, tzinfo=UTC)  # the metered sample's slot: after every burst's
_SAMPLE = 100
_SCAN_SEGMENTS = 4
_CLOCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sizes:
    triggers: int = 20_000
    processes: tuple[int, ...] = (1, 2, 4)
    tick_budget: int = 0  # triggers the tick dispatches itself before it queues the rest


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far by this process, by its DynamoDB Local, and by the whole machine (busy, cores)."""

    tick: float
    dynamodb: float
    machine: float

    @staticmethod
    def now() -> "Cpu":
        own = resource.getrusage(resource.RUSAGE_SELF)
        return Cpu(own.ru_utime + own.ru_stime, sum(map(process_cpu, _dynamodb_pids())), _machine_busy())

    def since(self, earlier: "Cpu") -> "Cpu":
        return Cpu(self.tick - earlier.tick, self.dynamodb - earlier.dynamodb, self.machine - earlier.machine)


def run(sizes: Sizes) -> dict[str, Any]:
    with default_pool() as pool:
        _drain(pool)
        sample = _sample(pool)
        bursts = [
            _burst(sizes, processes, datetime(LATEST_SLOT - index, 1, 1, tzinfo=UTC), pool)
            for index, processes in enumerate(sizes.processes)
        ]
    return _summary(sizes, sample, bursts)


def _drain(pool: Executor) -> None:
    """Dispatches, here, whatever else is due at the latest slot, so the bursts' ticks find only their own."""
    tick(frozen_at(datetime(LATEST_SLOT, 1, 1, tzinfo=UTC)), runtime.new_id, pool, budget=10**9)


def _sample(pool: Executor) -> dict[str, Any]:
    """What one dispatch of the bursts' kind asks of DynamoDB, metered over a small untimed population."""
    fresh = _loaded("Bench burst sample", _SAMPLE, SAMPLE_SLOT, pool)
    with Meter() as meter, recorded_transactions() as sent:
        dispatch_all(fresh.trigger_ids, frozen_at(SAMPLE_SLOT), runtime.new_id, pool)
    tally = meter.tally
    return {
        "itemsPerTransaction": round(sum(len(params["TransactItems"]) for params in sent) / len(sent), 2),
        "writeUnitsPerDispatch": ratio(tally.write_units, _SAMPLE),
        "readUnitsPerDispatch": ratio(tally.read_units, _SAMPLE),
        "requestsPerDispatch": ratio(tally.total, _SAMPLE),
        "requestsByOperation": dict(sorted(tally.requests.items())),
        "writeUnitsPerDispatchByTable": {
            _short(table): ratio(units, _SAMPLE) for table, units in sorted(tally.write_units_by_table.items()) if units
        },
        "transactionItemsByTable": _items_by_table(sent[0]),
    }


def _items_by_table(params: dict[str, Any]) -> dict[str, int]:
    """How many of one transaction's items each table holds."""
    tables = Counter(_short(next(iter(entry.values()))["TableName"]) for entry in params["TransactItems"])
    return dict(sorted(tables.items()))


def _short(table: str) -> str:
    """`routines` for `<prefix>-routines`, `triggers/due` for its index."""
    name, _, index = table.partition("/")
    short = next((name_of(model) for model in ALL_TABLES if model.Meta.table_name == name), name)
    return f"{short}/{index}" if index else short


def _loaded(name: str, size: int, slot: datetime, pool: Executor) -> Population:
    fresh = population(make_tenant(name), size, to_iso(slot))
    write_all(fresh.routines, pool)
    write_all(fresh.triggers, pool)
    return fresh


@dataclass(frozen=True)
class Burst:
    processes: int
    due: int
    queued: int
    batches: int
    tick_seconds: float
    end_to_end_seconds: float
    dispatch_seconds: float
    runs_created: int
    errors: int
    runs_per_trigger: Counter[int]
    cpu: Cpu
    dispatcher_cpu: float


def _burst(sizes: Sizes, processes: int, slot: datetime, pool: Executor) -> Burst:
    fresh = _loaded(f"Bench burst {processes}", sizes.triggers, slot, pool)
    context = multiprocessing.get_context("spawn")
    inbox: Queue[str | None] = context.Queue()
    outbox: Queue[dict[str, Any]] = context.Queue()
    workers = [context.Process(target=dispatcher, args=(inbox, outbox, slot)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for _ in workers:
        _receive(outbox, workers)  # ready: imported, configured, connected
    before = Cpu.now()
    started = time.monotonic()
    summary = tick(
        frozen_at(slot), runtime.new_id, pool, sizes.tick_budget, lambda ids: inbox.put(encode_message(Message(ids)))
    )
    ticked = time.monotonic()
    for _ in workers:
        inbox.put(None)
    reports = [_receive(outbox, workers) for _ in workers]
    ended = max(report["lastDone"] or ticked for report in reports)
    cpu = Cpu.now().since(before)
    for worker in workers:
        worker.join()
    firsts = [report["firstReceived"] for report in reports if report["firstReceived"] is not None]
    return Burst(
        processes=processes,
        due=summary.due,
        queued=summary.queued,
        batches=sum(report["batches"] for report in reports),
        tick_seconds=ticked - started,
        end_to_end_seconds=ended - started,
        dispatch_seconds=ended - min(firsts, default=started),
        runs_created=sum(report["runs"] for report in reports) + sum(summary.runs.values()),
        errors=sum(report["errors"] for report in reports) + summary.errors,
        runs_per_trigger=_runs_per_trigger(fresh, to_iso(slot), pool),
        cpu=cpu,
        dispatcher_cpu=sum(report["cpuSeconds"] for report in reports),
    )


def dispatcher(inbox: "Queue[str | None]", outbox: "Queue[dict[str, Any]]", now: datetime) -> None:
    """One dispatcher process: per message what the SQS handler does, until it reads None."""
    from chalicelib.settings import load_settings

    runtime.configure(load_settings(os.environ))  # the parent's DynamoDB Local, named in the environment
    report: dict[str, Any] = {"batches": 0, "runs": 0, "errors": 0, "firstReceived": None, "lastDone": None}
    with default_pool() as pool:
        dispatch_all(["burst-warm-up"], frozen_at(now), runtime.new_id, pool)  # opens the connection: not timed
        outbox.put({"ready": True})
        cpu = time.process_time()
        while (body := inbox.get()) is not None:
            report["firstReceived"] = report["firstReceived"] or time.monotonic()
            outcomes = dispatch_all(decode_message(body).trigger_ids, frozen_at(now), runtime.new_id, pool)
            report["lastDone"] = time.monotonic()
            report["batches"] += 1
            report["runs"] += sum(sum(outcome.runs.values()) for outcome in outcomes)
            report["errors"] += sum(outcome.errors for outcome in outcomes)
        report["cpuSeconds"] = time.process_time() - cpu
    outbox.put(report)


def _receive(outbox: "Queue[dict[str, Any]]", workers: list[Any]) -> dict[str, Any]:
    """The next message of a dispatcher; raises, rather than waits for ever, once one of them has died."""
    while True:
        try:
            return outbox.get(timeout=1.0)
        except queue.Empty:
            failed = [worker.exitcode for worker in workers if worker.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"a dispatcher process failed (exit codes {failed})") from None


def _runs_per_trigger(fresh: Population, slot: str, pool: Executor) -> Counter[int]:
    """How many triggers have 0, 1, 2... runs for the slot: a parallel scan of the runs of the burst's company."""
    company = fresh.routines[0].companyId
    mine = set(fresh.trigger_ids)

    def segment(number: int) -> Counter[str]:
        items = RunItem.scan(
            (RunItem.companyId == company) & (RunItem.scheduledFor == slot),
            segment=number,
            total_segments=_SCAN_SEGMENTS,
            attributes_to_get=["triggerId"],
        )
        return Counter(item.triggerId for item in items if item.triggerId in mine)

    runs: Counter[str] = sum(pool.map(segment, range(_SCAN_SEGMENTS)), Counter())
    return Counter(runs[trigger_id] for trigger_id in mine)


def _summary(sizes: Sizes, sample: dict[str, Any], bursts: list[Burst]) -> dict[str, Any]:
    rates = [burst.runs_created / burst.dispatch_seconds for burst in bursts]
    figures: dict[str, Callable[[Burst], Any]] = {
        "due": lambda b: b.due,
        "queued": lambda b: b.queued,
        "batches": lambda b: b.batches,
        "runsCreated": lambda b: b.runs_created,
        "errors": lambda b: b.errors,
        "exactlyOnce": lambda b: b.runs_per_trigger[1],
        "missing": lambda b: b.runs_per_trigger[0],
        "duplicates": lambda b: sum((count - 1) * n for count, n in b.runs_per_trigger.items() if count > 1),
        "tickSeconds": lambda b: round(b.tick_seconds, 2),
        "dispatchSeconds": lambda b: round(b.dispatch_seconds, 2),
        "endToEndSeconds": lambda b: round(b.end_to_end_seconds, 2),
        "dynamodbCores": lambda b: round(b.cpu.dynamodb / b.end_to_end_seconds, 2),
        "dispatcherCores": lambda b: round(b.dispatcher_cpu / b.end_to_end_seconds, 2),
        "tickCores": lambda b: round(b.cpu.tick / b.end_to_end_seconds, 2),
        "machineBusyCores": lambda b: round(b.cpu.machine / b.end_to_end_seconds, 2),
        "dynamodbCpuMsPerRun": lambda b: round(1000 * b.cpu.dynamodb / b.runs_created, 2),
        "dispatcherCpuMsPerRun": lambda b: round(1000 * b.dispatcher_cpu / b.runs_created, 2),
    }
    result: dict[str, Any] = {"benchmark": "burst", "triggers": sizes.triggers, "processes": list(sizes.processes)}
    result |= {"tickBudget": sizes.tick_budget, "batchSize": BATCH_SIZE, "cores": os.cpu_count(), **sample}
    result["runsPerSecond"] = [round(rate, 1) for rate in rates]
    result["runsPerSecondVsOneProcess"] = [ratio(rate, rates[0]) for rate in rates]
    result |= {name: [figure(burst) for burst in bursts] for name, figure in figures.items()}
    per_run = median([(b.cpu.dynamodb + b.dispatcher_cpu + b.cpu.tick) / b.runs_created for b in bursts])
    result["machineCeilingRunsPerSecond"] = round((os.cpu_count() or 1) / per_run, 1)  # every core ours
    result["awsModel"] = capacity.model(_measured(sample, bursts))
    result["targets"] = {
        "everySlotFiredOnce": all(b.runs_per_trigger == Counter({1: sizes.triggers}) for b in bursts),
        "noDispatchErrors": not any(result["errors"]),
    }
    return result


def _measured(sample: dict[str, Any], bursts: list[Burst]) -> capacity.Measured:
    return capacity.Measured(
        write_units=sample["writeUnitsPerDispatch"],
        write_units_by_table=sample["writeUnitsPerDispatchByTable"],
        transaction_items_by_table=sample["transactionItemsByTable"],
        tick_cpu_per_key=median([burst.cpu.tick / burst.due for burst in bursts]),
        dispatch_cpu_per_run=median([burst.dispatcher_cpu / burst.runs_created for burst in bursts]),
        due_shards=len(all_due_shards()),
    )


def _dynamodb_pids() -> list[int]:
    """This process's DynamoDB Local: the Java child it started (the benchmark's, or the tests')."""
    mine = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if name.endswith("(java") and rest.split()[1] == mine:
            found.append(int(stat.parent.name))
    return found


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy since boot (every process, the neighbours' too)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _CLOCK
