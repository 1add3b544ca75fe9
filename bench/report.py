"""bench/RESULTS.md and the tick-cost chart, from the results of one `make bench`."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

from bench.stats import median

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
RESULTS = "RESULTS.md"
CHART = "tick_cost.png"
BURST_CHART = "burst.png"
LAG_CHART = "fire_lag.png"
Result = dict[str, Any]


def write(
    results: list[Result], machine: dict[str, str], load_after: str, seconds: float, directory: Path = HERE
) -> Path:
    """Writes RESULTS.md, tick_cost.png and fire_lag.png into `directory`; returns the path of RESULTS.md."""
    by_name = {result["benchmark"]: result for result in results}
    chart(by_name["tick_cost"], directory / CHART)
    if "burst" in by_name:
        burst_chart(by_name["burst"], directory / BURST_CHART)
    if "fire_lag" in by_name:
        lag_chart(by_name["fire_lag"], directory / LAG_CHART)
    sections = [_header(machine, load_after, seconds), _summary(results)]
    sections += [SECTIONS[name](by_name[name]) for name in SECTIONS if name in by_name]
    sections.append(_raw(results))
    path = directory / RESULTS
    path.write_text("\n\n".join(sections) + "\n")
    return path


def chart(result: Result, path: Path) -> None:
    """Tick cost against stored triggers, each series relative to the smallest table."""
    stored = result["stored"]
    reads = [count / result["findItemsRead"][0] for count in result["findItemsRead"]]
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    axes.plot(stored, result["findTimeVsSmallest"], "o-", label="find step time (median)")
    axes.plot(stored, result["tickTimeVsSmallest"], "s-", label="full tick time (median)")
    axes.plot(stored, reads, "^--", label="items read by the find step")
    axes.axhline(1.2, color="grey", linestyle=":", linewidth=1, label="time target (1.2)")
    axes.set_xscale("log")
    axes.set_xticks(stored, [f"{count:,}" for count in stored])
    axes.set_ylim(0, max(2.0, *result["findTimeVsSmallest"], *result["tickTimeVsSmallest"]) * 1.1)
    labels = ("stored triggers in the due index (the same 100 due)", f"relative to {stored[0]:,} stored")
    _save(figure, axes, path, "Tick cost vs stored triggers", labels, "lower right")


def burst_chart(result: Result, path: Path) -> None:
    """Runs per second against dispatcher processes, beside linear scaling from one process."""
    processes, rates = result["processes"], result["runsPerSecond"]
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    axes.plot(processes, rates, "o-", label="runs/s through the queue path")
    axes.plot(processes, [rates[0] * count for count in processes], ":", color="grey", label="linear from 1 process")
    for count, rate, cores in zip(processes, rates, result["dynamodbCores"], strict=True):
        axes.annotate(f"DynamoDB Local {cores} cores", (count, rate), textcoords="offset points", xytext=(4, -12))
    axes.set_xticks(processes)
    axes.set_ylim(0, max(rates) * 1.4)
    due = f"{result['triggers']:,} triggers due in one minute, {result['cores']} cores"
    _save(figure, axes, path, "Burst through the queue path", (f"dispatcher processes ({due})", "runs per second"))


def _save(figure: Any, axes: Any, path: Path, title: str, labels: tuple[str, str], legend: str = "upper left") -> None:
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc=legend, fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def lag_chart(result: Result, path: Path) -> None:
    """Slot to run, each run of the burst in order, with look-ahead and without."""
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label, style in (("lookAhead", "look-ahead", "-"), ("withoutLookAhead", "without (the next tick)", "--")):
        lags = result[key]["burstLagsSeconds"]
        axes.plot(range(1, len(lags) + 1), lags, style, label=label)
    axes.axhline(1.0, color="grey", linestyle=":", linewidth=1, label="first run target (1 s)")
    axes.axhline(3.0, color="black", linestyle=":", linewidth=1, label="last run target (3 s)")
    axes.set_xlabel(f"run of the burst of {result['burst']} triggers due at one minute, in write order")
    axes.set_ylabel("slot → run written (s)")
    axes.set_ylim(bottom=0)
    axes.set_title(f"Fire lag, local tick every {result['tickSeconds']:g} s")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _header(machine: dict[str, str], load_after: str, seconds: float) -> str:
    rows = "\n".join(f"| {name} | {value} |" for name, value in machine.items())
    return f"""# Benchmark results

Written by `make bench` ({seconds / 60:.1f} minutes). Every figure in the tables and the JSON lines is from that
one run; the notes also cite a few separate experiments, marked as such. The machine is shared and noisy
(see the load averages), so the figures are ratios measured in the same run, each the median of repetitions.

| | |
|---|---|
{rows}
| loadAfter | {load_after} |"""


def _summary(results: list[Result]) -> str:
    rows = []
    for result in results:
        for target, met in result.get("targets", {}).items():
            rows.append(f"| {result['benchmark']} | `{target}` | {'met' if met else '**missed**'} |")
    return "## Targets\n\n| benchmark | target | this run |\n|---|---|---|\n" + "\n".join(rows)


def _tick_cost(r: Result) -> str:
    rows = "\n".join(
        f"| {stored:,} | {found} | {read} | {units} | {find_t} | {find_cpu} | {tick_t} |"
        for stored, found, read, units, find_t, find_cpu, tick_t in zip(
            r["stored"],
            r["dueFound"],
            r["findItemsRead"],
            r["findReadUnits"],
            r["findTimeVsSmallest"],
            r["findCpuVsSmallest"],
            r["tickTimeVsSmallest"],
            strict=True,
        )
    )
    by_op = ", ".join(f"{op} {count}" for op, count in r["tickRequestsByOperation"].items())
    return f"""## 1. Tick cost vs stored triggers

The same {r["due"]} due triggers among {", ".join(f"{n:,}" for n in r["stored"])} stored in the `due` index (the
others due in 2095). The find step is `scheduler.find_due` (one Query per shard, {r["findQueries"][-1]} shards, in
parallel on the tick's pool); the full tick runs on a fresh copy of the due work (new routines and triggers
each repetition). Items read and capacity units are what DynamoDB Local returned (`ReturnConsumedCapacity`).

| stored | due found | items read | read units | find time vs smallest | find CPU vs smallest | full tick time |
|---:|---:|---:|---:|---:|---:|---:|
{rows}

- reads ratio {r["stored"][-1]:,}/{r["stored"][0]:,}: **{r["readsRatio"]}**; find time ratio: **{r["timeRatio"]}**;
  full tick time ratio: {r["tickTimeRatio"]}.
- Reads per due trigger: **{r["readsPerDueTrigger"]}** item ({r["readUnitsPerDueTrigger"]} read units: the
  index is keys-only, so a Query page of many keys costs 0.5 unit per shard, not per item).
- The full tick's requests per due trigger: {r["tickRequestsPerDueTrigger"]} ({by_op}); its requests at each
  size: {r["tickRequests"]}. Its time is mostly the 100 dispatches, key-addressed requests that do not depend
  on the table's size, and it moves by tens of percent between runs on this machine: it is shown, not targeted.
- The sizes are measured on the way up and again on the way down ({" → ".join(f"{n:,}" for n in r["passes"])}),
  and each figure is the median over both passes: DynamoDB Local keeps warming up for minutes, and a drift
  linear in time cancels out. The find step's median in each pass, relative to the first:
  {r["findTimeByPassVsFirst"]}: on this shared machine the wall clock moves by tens of percent from one
  minute to the next, so the CPU time that DynamoDB Local and the client spent per find step (median of the
  passes) is shown beside it; it hardly notices the neighbours.

![tick cost](tick_cost.png)"""


def _dispatch(r: Result) -> str:
    return f"""## 2. Dispatch vs raw engine

{r["dueTriggers"]} due triggers dispatched by `dispatch_all` on the tick's pool ({r["workers"]} threads), against
the very transactions those dispatches sent ({r["itemsPerTransaction"]} items each: routine update, issue put,
assignee check, run put, slot claim put, trigger update), replayed as bare `TransactWriteItems` on fresh
identical items with the same pool. A third series replays the single-trigger path's request mix raw
(consistent GetItem of the trigger and of the routine, then the transaction). The three kinds run interleaved
in blocks.

| | per second (median) |
|---|---:|
| dispatch (runs) | {r["dispatchRunsPerSecond"]} |
| bare transactions | {r["rawTransactionsPerSecond"]} |
| raw request mix (2 GetItem + transaction) | {r["rawRequestMixPerSecond"]} |

- **ratio dispatch / bare transactions: {r["ratio"]}** (repetitions: {r["pairedRatios"]}).
- Raw request mix / bare transactions: {r["rawRequestMixToBareRatio"]} (what two reads per trigger would cost);
  dispatch / raw request mix: {r["ratioToRawRequestMix"]}.
{NOTES["dispatch"]}"""


def _requests(r: Result) -> str:
    return f"""## 3. DynamoDB requests per dispatch

Counted with botocore `before-call` hooks on every table's client, over {r["runs"]} firings each, every one on a
routine with no open issue (the common path: it creates an issue).

| firing | requests, most firings | mean | by operation (mean per firing) |
|---|---:|---:|---|
{_request_row("manual run (`load_routine` + `run_routine` → `start_run`)", r, "startRun")}
{_request_row("scheduled (`dispatch_due`, per due trigger)", r, "scheduled")}
{NOTES["requests"]}

### Per route, authentication included

Through the real handler (`chalice.test.Client` over `app`), {r["routeCalls"]} calls of each route, the most
common count. Warm: the key was seen in the last {r["keyCacheSeconds"]} s (`key_cache_seconds`), the common path;
cold: the key cache emptied before each call, as in a new Lambda container.

| route | warm | cold, board key | cold, agent key | warm, by operation (mean per call) |
|---|---:|---:|---:|---|
{_route_rows(r)}
{NOTES["routes"]}"""


def _route_rows(r: Result) -> str:
    labels = {"createRoutine": "create routine", "manualRun": "manual run", "signedWebhook": "signed webhook"}
    rows = []
    for route, label in labels.items():
        cold = [r["routesCold"].get(f"{route}.{key}", "no key") for key in ("boardKey", "agentKey")]
        warm = f"**{r['routesWarm'][route]}**"
        rows.append(f"| {label} | {warm} | {cold[0]} | {cold[1]} | {_ops(r['routesWarmByOperation'][route])} |")
    return "\n".join(rows)


def _request_row(label: str, r: Result, key: str) -> str:
    return f"| {label} | **{r[f'{key}CommonPath']}** | {r[f'{key}Mean']} | {_ops(r[f'{key}ByOperation'])} |"


def _ops(counts: dict[str, float]) -> str:
    return ", ".join(f"{operation} {count}" for operation, count in counts.items())


def _cron(r: Result) -> str:
    return f"""## 4. Cron: next fire time

{r["triggers"]:,} triggers over {r["expressions"]} expressions (common, stepped, sparse such as `0 0 29 2 1`) in
{r["timezones"]} time zones, at moments spread over a year (DST changes included). Per trigger each side does
what the tick does: take the stored expression and zone, compute the next fire time. Thread CPU time.

- **{r["speedupVsCroniter"]} times as fast as croniter** (`parse_schedule` + `next_fire_after`, the parse cache
  warm as in a running tick); {r["speedupWithoutParseCache"]} times when every expression is validated afresh.
- Same answer as croniter for {r["sameAnswer"] * 100:.1f} % of the triggers.
- Slowest expression (median per call): {r["slowestExpression"]}, **{r["slowestExpressionMedianMs"]} ms**;
  slowest single call: {r["maxSingleCallMs"]} ms.
{NOTES["cron"]}"""


def _cold_start(r: Result) -> str:
    shares = ", ".join(f"{name} {share:.0%}" for name, share in r["heaviestImports"].items())
    tick_shares = ", ".join(f"{name} {share:.0%}" for name, share in r["tickHeaviestImports"].items())
    rows = "\n".join(
        f"| {name} | `{f['statement']}` | {f['ms']} ms | **{f['ratio']}** | {f['cpuTimeRatio']} | "
        f"{f['ratioToBotocore']} | {f['cpuTimeRatioToBotocore']} |"
        for name, f in r["functions"].items()
    )
    return f"""## 5. Cold start

Each Lambda function's handler module imported by a new interpreter (`python -c "import ..."`), against
`python -c "{r["baseline"]}"` and `python -c "{r["botocore"]}"`: whole processes, {r["runs"]} runs each,
interleaved; medians. The CPU-time ratios are less disturbed by busy neighbours. Targets: 1.3 for the tick
and the dispatcher, against botocore and chalice.

| function | handler module | wall clock | ratio | CPU-time ratio | ratio to botocore | CPU-time ratio to botocore |
|---|---|---:|---:|---:|---:|---:|
{rows}

- Where `import app` spends its time (own import time by top-level package): {shares}.
- Where the tick's module spends it: {tick_shares}.
{NOTES["cold_start"]}

{_observability(r["observability"])}"""


def _observability(r: Result) -> str:
    head = """### Logging and metrics: our writer or aws-lambda-powertools

In the same interleaved rounds, a new interpreter that imports and configures a logger and a metrics writer,
then writes one log line and one EMF metric: `chalicelib.observability` against powertools' `Logger` and
`Metrics`, and an empty interpreter (`python -c pass`) for the start both include. Medians."""
    if r["powertools"] is None:
        return f"""{head}

- aws-lambda-powertools is not installed (`pip install -r requirements-bench.txt`): ours {r["oursMs"]} ms,
  empty interpreter {r["emptyMs"]} ms.
{NOTES["observability"]}"""
    shares = ", ".join(f"{name} {share:.0%}" for name, share in r["powertoolsHeaviestImports"].items())
    return f"""{head}

| process | wall clock (median) |
|---|---:|
| empty interpreter | {r["emptyMs"]} ms |
| ours: `chalicelib.observability` | {r["oursMs"]} ms |
| aws-lambda-powertools {r["powertoolsVersion"]} `Logger` + `Metrics` | {r["powertoolsMs"]} ms |

- **powertools / ours: {r["powertoolsToOursRatio"]}** (wall clock); CPU time {r["powertoolsToOursCpuRatio"]}.
- What each adds to the empty interpreter's start, powertools / ours: **{r["addedOverEmptyRatio"]}**.
- Where the powertools process spends its import time (own time by top-level package): {shares}.
{NOTES["observability"]}"""


def _api(r: Result) -> str:
    kinds = (("createRoutine", "create routine"), ("manualRun", "manual run"), ("webhookFire", "signed webhook fire"))
    rows = "\n".join(f"| {label} | {r[f'{kind}P50Ratio']} | {r[f'{kind}P99Ratio']} |" for kind, label in kinds)
    return f"""## 6. API latency through the local server

`routines.local.server.ApiServer` in its own process on a free port, {r["clients"]} concurrent clients,
{r["samplesPerKind"]} requests of each kind, each on its own connection. Ratios to the trivial route,
{r["trivialRoute"]}, measured in the same rounds (median over rounds).

| route | p50 / trivial p50 | p99 / trivial p99 |
|---|---:|---:|
{rows}
{NOTES["api"]}"""


def _throughput(r: Result) -> str:
    rows = "\n".join(
        f"| {c} | {r['requestsPerMeasurement'][c]} | {r['singleWorkerRequestsPerSecond'][c]} | "
        f"{r['workersRequestsPerSecond'][c]} | **{r['workersVsSingleRatio'][c]}** | "
        f"{r['singleScalingVsOneClient'][c]} |"
        for c in map(str, r["clients"])
    )
    return f"""## 8. Local server throughput: `routines dev --workers`

The mix of section 6 (trivial read, create routine, manual run, signed webhook fire, each on its own
connection) from 1 to {max(r["clients"])} concurrent clients, against `--workers 1` (one process, a thread per
connection) and `--workers {r["workers"]}` (forked processes sharing the port), both started as `routines dev`
starts them (`bench.serve`) against the bench's DynamoDB Local, taking turns. Requests answered per second,
median over rounds.

| clients | requests each time | 1 worker, req/s | {r["workers"]} workers, req/s | workers / 1 | 1 worker vs 1 client |
|---:|---:|---:|---:|---:|---:|
{rows}
{NOTES["throughput"]}"""


def _status(r: Result) -> str:
    return f"""## 10. `routines status` for a company of {r["routines"]:,} routines

The whole command as an operator runs it (`routines status <company> --json`, a new process against the
bench's DynamoDB Local), interleaved with `routines status --help` (the same process that only starts), medians of
{r["runs"]} runs. Each routine has a schedule trigger and has run once, so each row reads a trigger, a last run
and an open issue.

| | seconds (median) |
|---|---:|
| `routines status --json`, wall clock | **{r["statusSeconds"]}** |
| the same, CPU time of the process | {r["statusCpuSeconds"]} |
| `routines status --help` (start-up alone) | {r["startupSeconds"]} |
| `company_status` in a warm process | {r["companyStatusInProcessSeconds"]} |

- status / start-up: {r["statusToStartupRatio"]}.
{NOTES["status"]}"""


def _burst(r: Result) -> str:
    columns = (
        ("processes", "dispatcher processes"),
        ("runsPerSecond", "runs/s"),
        ("runsPerSecondVsOneProcess", "vs 1 process"),
        ("tickSeconds", "tick (find + enqueue) s"),
        ("dispatchSeconds", "first batch to last run s"),
        ("endToEndSeconds", "slot to last run s"),
        ("exactlyOnce", "triggers with exactly 1 run"),
        ("missing", "missing"),
        ("duplicates", "duplicates"),
        ("dynamodbCores", "DynamoDB Local cores"),
        ("dispatcherCores", "dispatcher cores"),
        ("tickCores", "tick cores"),
        ("machineBusyCores", "machine busy cores"),
        ("dynamodbCpuMsPerRun", "DynamoDB Local CPU ms/run"),
        ("dispatcherCpuMsPerRun", "dispatcher CPU ms/run"),
    )
    rows = "\n".join(
        "| " + " | ".join(str(r[key][index]) for key, _ in columns) + " |" for index in range(len(r["processes"]))
    )
    by_table = ", ".join(f"{table} {units}" for table, units in r["writeUnitsPerDispatchByTable"].items())
    return f"""## 9. A burst past one machine

{r["triggers"]:,} triggers (each of its own routine, one company and agent per process count) due in the same
minute, written with batch writes, then dispatched through the queue path: one tick (`scheduler.tick` with a
`send_batch` and a budget of {r["tickBudget"]}) finds them and queues them in batches of {r["batchSize"]}
(`queue.encode_message`) onto a multiprocessing queue, and {_counts(r["processes"])} dispatcher processes, started
and connected before the tick, each do per message what the SQS `dispatch` handler does (`decode_message`,
`dispatch_all` on a pool of 16 threads), against the one DynamoDB Local, on this {r["cores"]}-core machine. Every
process count gets a fresh population due at its own slot. Afterwards a scan of the runs counts each trigger's
runs for its slot. Cores are CPU seconds over the slot-to-last-run time: DynamoDB Local's Java process and the
dispatchers read from /proc and getrusage, the machine's from /proc/stat (busy cores minus ours are the
neighbours').

| {" | ".join(label for _, label in columns)} |
|{"---:|" * len(columns)}
{rows}

- **Every slot fired once: {"yes" if r["targets"]["everySlotFiredOnce"] else "**no**"}** (runs per trigger counted
  from the runs table; dispatch errors: {sum(r["errors"])}).
- Per dispatch (metered over {r["requestsByOperation"].get("TransactWriteItems", 0)} untimed dispatches of the
  same kind): {r["itemsPerTransaction"]} items per transaction, **{r["writeUnitsPerDispatch"]} write units**
  ({by_table}), {r["requestsPerDispatch"]} requests ({_ops(r["requestsByOperation"])}), as DynamoDB Local reports
  them (`ReturnConsumedCapacity` with `INDEXES`).
- CPU per run (median over the process counts): DynamoDB Local {median(r["dynamodbCpuMsPerRun"])} ms, the
  dispatchers {median(r["dispatcherCpuMsPerRun"])} ms; summed with the tick's, it caps this machine at
  **{r["machineCeilingRunsPerSecond"]} runs/s** even with both cores to ourselves. Runs/s with
  {r["processes"][-1]} processes: {r["runsPerSecondVsOneProcess"][-1]} times 1 process's.

![burst](burst.png)
{NOTES["burst"]}

{_capacity(r["awsModel"])}"""


_CEILINGS = {
    "newTables": "new on-demand tables (4,000 write units/s each)",
    "tableQuota": "default per-table quota (40,000 write units/s)",
    "dueIndexShards": "`due` index, 1,000 write units/s per shard key",
    "oneCompany": "one company's directory partition (1,000/s)",
}
_MINUTES = {"newTables": "new tables", "tableQuota": "tables at their quota", "oneCompany": "all in one company"}


def _counts(processes: list[int]) -> str:
    """`1, 2 or 4`."""
    return ", ".join(map(str, processes[:-1])) + f" or {processes[-1]}" if len(processes) > 1 else str(processes[0])


def _capacity(m: Result) -> str:
    rows = [
        ("dispatches/s for 1,000,000 in one minute", f"{m['neededDispatchesPerSecond']:,}", "computed"),
        ("write units per dispatch, tables and indexes", m["modelWriteUnitsPerDispatch"], "measured, floor 2/item"),
        ("write units/s for 1,000,000 in one minute", f"{m['neededWriteUnitsPerSecond']:,}", "computed"),
        (f"busiest table per dispatch: {m['busiestTable']}", m["busiestTableWriteUnitsPerDispatch"], "as above"),
    ]
    rows += [
        (f"ceiling: {label}", f"{m['ceilingsDispatchesPerSecond'][key]:,} dispatches/s", "documented limit")
        for key, label in _CEILINGS.items()
    ]
    rows += [
        ("find: Query pages (16 shards, 1 MB pages)", m["findQueryPages"], "assumed 100 B/key"),
        ("find: read units per shard", m["findReadUnitsPerShard"], "computed (< 3,000/s)"),
        ("tick CPU on a 1,024 MB Lambda for 1,000,000 keys", f"{m['tickCpuSecondsOnLambda']} s", "measured, scaled"),
        ("queue messages of 25 ids", f"{m['messages']:,}", "computed"),
        ("enqueue one SendMessage at a time (today)", f"{m['enqueueSecondsOneByOne']} s", "assumed 20 ms/call"),
        ("enqueue SendMessageBatch of 10, 16 threads", f"{m['enqueueSecondsBatchedOn16Threads']} s", "assumed"),
        ("dispatches/s per dispatcher instance (CPU-bound)", m["dispatchesPerSecondPerInstance"], "measured, scaled"),
        ("instances for 1,000,000 in one minute", m["instancesForOneMinute"], "computed"),
    ]
    rows += [(f"minutes to dispatch, {label}", m["minutes"][key], "modelled") for key, label in _MINUTES.items()]
    table = "\n".join(f"| {name} | {value} | {kind} |" for name, value, kind in rows)
    return f"""### Capacity model: 1,000,000 triggers due in one minute on AWS

| | | source |
|---|---:|---|
{table}
{NOTES["capacity"]}"""


def _fire_lag(r: Result) -> str:
    ahead, today = r["lookAhead"], r["withoutLookAhead"]
    rows = "\n".join(
        f"| {label} | {ahead[key]} | {today[key]} |"
        for label, key in (
            ("burst: slot → first run (s)", "burstFirstSeconds"),
            ("burst: slot → last run (s)", "burstLastSeconds"),
            ("single trigger: slot → run, p50 (s)", "singleP50Seconds"),
            ("single trigger: slot → run, p90 (s)", "singleP90Seconds"),
            ("earliest run after its slot (s)", "earliestSeconds"),
            ("runs written (burst, singles)", "runs"),
        )
    )
    return f"""## 7. Fire lag: slot to run, with look-ahead and without

The local scheduler `routines dev` runs (`routines.local.ticker.tick_forever`: the tick every
{r["tickSeconds"]:g} s, its phase wherever it starts, and the timer queue), on the real clock against the bench's
DynamoDB Local, in two passes after a warm-up burst (a cold DynamoDB Local would slow whichever pass came first):
look-ahead on, then off (today's behaviour: a slot waits for the next tick). Each
pass stores a burst of {r["burst"]} triggers due at the same whole minute, then {r["singles"]} single triggers
whose stored `nextRunAt` lies {r["singleSpacingSeconds"]:g} s apart after it (so that 20 single slots fit in about
a minute rather than 20 minutes; their phases against the tick spread over several periods). A run's lag is its
`createdAt` (written when the run is written) minus its `scheduledFor`.

| | look-ahead | without |
|---|---:|---:|
{rows}

- Without / with: a single trigger's p50 **{r["singleP50Ratio"]}** times, the burst's last run
  **{r["burstLastRatio"]}** times.
- With look-ahead the tick that precedes a slot by less than its horizon (the period plus 15 s) hands the slot's
  batches of 25 to the timer queue, which delivers them at the slot to `scheduler.dispatch_delivery`, the
  function the dispatch Lambda calls; each run's `now` is read when its trigger is dispatched. Without it, a
  slot's lag is the time to the next tick, anywhere from 0 to a period.
- On AWS the same figures depend on SQS's delivery after `DelaySeconds` and the dispatch Lambda's start, which
  this local run does not measure.

![fire lag](fire_lag.png)"""


def _raw(results: list[Result]) -> str:
    lines = "\n".join(json.dumps(result) for result in results)
    return f"## The JSON lines of this run\n\n```\n{lines}\n```"


SECTIONS: dict[str, Callable[[Result], str]] = {
    "tick_cost": _tick_cost,
    "dispatch_vs_raw": _dispatch,
    "requests_per_dispatch": _requests,
    "cron_next_fire": _cron,
    "cold_start": _cold_start,
    "api_latency": _api,
    "fire_lag": _fire_lag,
    "server_throughput": _throughput,
    "burst": _burst,
    "status_speed": _status,
}

NOTES = {
    "status": """
What it reads (`services.status.company_status`): the routines in one Query of the company's index (a few 1 MB
pages), then in consistent BatchGetItems of 100 keys: the triggers each routine item names (`triggerIds`, kept
with its latest revision's pointer) and, beside them on another thread, the last runs (by the `lastRunId` every
run write records); then the open issues. So the requests grow with the routines by one batch per hundred,
never by one query per routine. Four measured changes took it from 1.31 s (wall; 1.04 s CPU, on `make run` the
same day at load average about 1.5, 1,000 routines with a trigger each and no runs) to under a second:
- the tables used to have a pynamodb connection each, so a process made one botocore client per table it touched
  (each loads the service model anew: four of them were 0.19 s of a profiled status); `store.tables.bind` now
  points every table at one connection, which also spares each Lambda container those clients on its first
  requests (0.89 s wall, 0.60 s CPU, with the next change);
- the triggers' batches run beside the runs' instead of before them;
- `store.mapping` works out once per domain class how each field is stored, instead of once per item read
  (`get_type_hints` and the nested and enum checks ran for every field of 3,000 items): a sixth less CPU;
- the routine item records its trigger ids, so the 1,000 latest revisions (each a snapshot of the whole routine)
  are no longer read and parsed to find them: one batch phase fewer.""",
    "burst": """
What limits it here: everything shares two cores. DynamoDB Local is one Java process that serves every
transaction; each dispatcher is one Python process, bound by its GIL, whose CPU goes mostly to botocore building,
signing and parsing requests; the tick and the neighbours on this shared machine take the rest. The CPU per run
columns say where the cores went, and unlike the wall clock they hardly depend on the neighbours: a run costs
DynamoDB Local's CPU and a dispatcher's CPU, and once the two together fill both cores, more dispatcher processes
cannot add runs; they add context switches, and contention inside the one engine (4 processes of 16 threads put 64
transactions in flight at once); the dispatchers' CPU per run at each process count shows how much. The machine
ceiling above is the cores divided by the CPU per run: what a quiet machine would allow with the engine on it.
None of this transfers to AWS, where the engine is not on our cores; the client's CPU per run does (below).
Exactly-once holds at every process count: the slot claim in each dispatch transaction makes a duplicate delivery
or an overlapping dispatcher harmless, and the scan finds one run per trigger.

On a busy machine the wall clock says something else. In a run of this benchmark alone on 2026-12-01 (20,000
triggers, load average 15 to 21 from other work), the machine was busy on both cores throughout and we had only
0.33 to 0.6 of them: 1, 2 and 4 processes made 31.8, 57.1 and 69.7 runs/s (1.79 and 2.19 times 1 process), because
more runnable threads win a larger share of contended cores, not because the work scaled. The CPU per run stayed
put: DynamoDB Local 4.6 to 6.3 ms, the dispatchers 3.7 to 4.1 ms, a ceiling of about 215 runs/s for this machine
with both cores to ourselves.""",
    "capacity": """
Sources. Documented AWS limits: a new on-demand table (and index) sustains 4,000 write and 12,000 read units/s,
then up to double its previous peak at once ([DynamoDB
on-demand](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html), [warm
throughput](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html));
each partition serves at most 1,000 write and 3,000 read units/s (same page), and all items with one partition key
value start in one partition; the default quota is 40,000 read and 40,000 write units/s per table (raisable); a
transactional write costs 2 write units per item per KB, and a transaction conflicts with any other ongoing
transaction that includes one of its items
([transactions](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html)); a Query
page holds at most 1 MB. SQS standard queues have nearly unlimited throughput, SendMessageBatch takes 10 messages,
DelaySeconds at most 900. Lambda: 1,000 concurrent executions per Region by default, and each function scales by
at most 1,000 execution environments every 10 seconds ([scaling
behavior](https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html)); an SQS event source on a standard
queue starts with 5 concurrent batches and adds up to 300 per minute, to at most 1,000 ([SQS
scaling](https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)); at 1,769 MB a function has the
equivalent of one vCPU ([memory](https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)), so a
1,024 MB function gets 1,024/1,769 of one.
EventBridge invokes the tick once a minute. Measured here (this run): the write units of each table and index per
dispatch (floored at the documented 2 per transaction item where DynamoDB Local reports less), the tick's CPU per
due key (find, sort, encode, enqueue) and a dispatcher's CPU per run, both scaled to a 1,024 MB Lambda as if its
vCPU were one of these cores. Assumptions: 15 ms per transaction and 20 ms per SQS call in-Region, 100 bytes per
keys-only index entry, the dispatcher's reserved concurrency of 300. The minutes integrate, second by second, the
event source's ramp (5, then +300 a minute) times a dispatcher's rate, capped by the lowest ceiling.

Where it breaks first, in order:

1. **The tick, not DynamoDB.** Finding 1,000,000 keys is cheap for DynamoDB (about a hundred 1 MB pages over 16
   shards, well under each shard's 3,000 read units/s), but the tick turns every key into a pynamodb item, sorts
   and encodes them in one Python process: the tick-CPU row above, against the 40 s budget and the 60 s timeout of
   one invocation (41 s in the run of 2026-12-01: about the whole budget). Then it sends 40,000 messages one
   `SendMessage` at a time (about 800 s at 20 ms). When a tick times out, what it did not queue stays due, and the
   next tick finds it again together with everything queued but not yet dispatched, and queues that again
   (harmless, the claims keep it exactly once, but the backlog is re-sent every minute). So today a burst of this
   size is not queued within one tick at all. The code changes that raise this ceiling, in the order I would make
   them: send with `SendMessageBatch` (10 messages per call) on the tick's pool (about 5 s for 40,000 messages);
   queue each shard as its Query pages arrive, page by page, with raw key lists instead of model items (no sort of
   1,000,000, the budget checked between pages, and a timeout loses nothing); put 100 ids in a message, since
   `dispatch_all` reads 100 triggers per BatchGetItem anyway (10,000 messages). A look-ahead tick that queues the
   next minute's due triggers with `DelaySeconds` (another engineer's part of this issue) takes the find off the
   critical path.
2. **The `due` index's shards.** Every dispatch advances its trigger, which moves the index key `nextRunAt` within
   its shard: each shard key is one index partition, so 16 shards cap dispatch at the `due` ceiling above. Raising
   `ROUTINES_DUE_SHARDS` to 64 (a setting; the find step then makes 64 Queries) lifts it fourfold.
3. **Table throughput.** Tables that have never seen this traffic start at 4,000 write units/s, so the busiest
   table caps dispatch at the first ceiling row, and 1,000,000 takes the "new tables" minutes. Pre-warming the
   tables (warm throughput) to their 40,000 quota, or a quota raise, lifts it tenfold; above that the quota itself
   binds (at 40,000 units/s and 4 units per dispatch on the busiest table, 10,000 dispatches/s).
4. **Lambda concurrency and the poller ramp** are not the first limit: at the measured client CPU a 1,024 MB
   dispatcher does on the order of a hundred dispatches a second, so the instances needed for one minute fit in
   the account's 1,000 and the event source reaches them in the first minute or so of its ramp. A larger memory
   size (1,769 MB: a full vCPU) nearly doubles each instance's rate.
5. **One company.** All of a company's directory items (its agents, its issue counter, its 8 activity shards)
   share one partition key, so a burst of one company's triggers is capped by one partition's 1,000 write units/s
   at the one-company ceiling, and 1,000,000 of them take the one-company minutes. Worse, every one of those
   transactions checks the same agent item, and transactions that include one item conflict
   (`TransactionConflict`, retried with backoff): the agent item admits about one transaction at a time, so the
   one-company minutes are a lower bound. The issue counter (one UpdateItem per 20 issues per instance) is not
   what binds. The change that lifts it: check the assignee outside the transaction against a cached status
   (accepting a stale read, as the `due` index already does) or on a per-agent sharded status item, and give the
   activity shards their own partition keys (`companyId#n`).

Settings I would use for this burst: tick budget 0 (the tick only finds and queues), queue batches of 100 ids, a
dispatcher with 1,769 MB, reserved concurrency 300 to 500 with the event source's `MaximumConcurrency` equal to it
(leaving the API its share of the account's 1,000), 64 due shards, and tables pre-warmed to the quota before an
expected burst. With those and the tick changes, a 1,000,000-trigger minute drains in the "tables at their quota"
minutes, bound by table throughput; spread over many companies, not one.""",
    "dispatch": """
How it got here: at first each dispatch was three requests (the trigger's consistent GetItem, the routine's,
then the transaction) against the bare side's one, and the ratio was 0.68. DynamoDB Local and the Python
client share the two cores, and a cProfile of 500 serial dispatches (run separately) put three quarters of the
client's CPU in botocore's per-request path (serialise, sign, send, parse), which grows with the number of
requests, not with what they carry. So `scheduler.dispatch_all` now reads the due triggers, then their
routines, with consistent BatchGetItems (100 keys each), and dispatches from those: two requests per hundred
triggers instead of two per trigger. What remains between dispatch and the bare transactions is our own CPU
(building the transaction, converting items, planning slots) on the cores DynamoDB Local needs too. The raw
request mix row is the single-trigger path (`dispatch_due`: two GetItems, then the transaction), for scale.""",
    "requests": """
A manual run's common path is the routine's GetItem (`load_routine`) and one TransactWriteItems. The mean is a
little over 2 because issue identifiers are reserved 20 at a time with one UpdateItem on the company, so 1
firing in 20 makes that third request. Over HTTP the run view also authenticates: see the routes below.

A scheduled firing through `dispatch_due` (one trigger, as a test or a retry would) costs 3: the trigger's
consistent re-read (the `due` index entry may be stale or behind a pause; a stale entry must cost a read, never a
duplicate), the routine's read, and one transaction that writes routine, issue, run and slot claim and advances
the trigger together. The tick dispatches through `dispatch_all`, which reads triggers and routines in
consistent batches of 100: per due trigger that is one transaction plus a fiftieth of a BatchGetItem, and the
find step's Query per shard (see the full tick's requests in section 1).""",
    "routes": """
Where the requests went. An API key's principal is kept in memory for `key_cache_seconds` (30 s) after it is
read: a warm key costs nothing, a cold board key one GetItem, a cold agent key two (the key, then its agent, as
a terminated agent's keys must stop working). The bound is what a revocation or termination made by another
process waits at most; the process that makes it forgets the key at once. Creating a routine reads its company,
project, goal and assignee in one BatchGetItem (they share the company's partition) before its transaction. A
signed webhook reads, in one BatchGetItem of the claims table, its `public#` item, which carries a copy of the
trigger's configuration written in the same transactions as the trigger, and its three rate-limit windows; then
the routine (consistent GetItem); then the dispatch transaction, whose conditional updates add the delivery's
hits only while each window has room, so the limit holds under concurrency with no request of its own. A
delivery that fires nothing (bad signature, unknown id, inactive trigger) sends its hits in one transaction
of their own: one request more, off the common path.""",
    "cron": """
A measurement showed the need for the one code change this benchmark made. Before it, `parse_schedule` +
`next_fire_after` ran at 2.1 times croniter's speed: half our time went to validating the stored expression
again on every call (`_check_fires`: a cronsim parse and a search from 2000). `parse_schedule` now keeps its
answers (`functools.lru_cache(maxsize=4096)` on expression and zone: a pure function of its arguments; errors
are not cached), as the tick parses the stored expression of every due trigger and triggers share expressions.
With every expression new (the second figure) it is still about 2 times croniter's speed.""",
    "cold_start": """
Since issue 15 the tick, the dispatcher and the wake reader no longer import `app`: app.py keeps their Chalice
decorators (Chalice generates their functions, roles, schedule and event source mappings from them) and
delegates to `chalicelib/lambdas/{tick,dispatch,wake}.py`, and `routines package` points each function's
`Handler` there, so on AWS each imports pynamodb and the services it uses: no Chalice, no pydantic, no
blueprint, and not another function's services (tests/infra/test_lambdas.py checks all of it). Three import
edges that pulled pydantic into that path were cut: the assignee and reference checks moved from the routines
service (which takes the request commands) to `services/references.py`, an issue's wake list moved to the
issues service, and `services.runs` imports its `RunRoutine` command for typing only. That takes the tick and
the dispatcher from the API's ratio to the figures above.

What remains between them and the baseline is what they use: pynamodb's models and attributes on top of
botocore, our table models, and the domain's dataclasses. In `-X importtime` measurements (fastest of 9, on
the busy machine, separate from the table, before the docstrings below), the dispatcher's module added about
58 ms to what the baseline imports, a third of it `chalicelib.domain.models`, whose 15 frozen dataclasses each
compile six generated methods at import (Python 3.11). Giving every dataclass on the path a docstring (without
one, `dataclass` builds it from `inspect.signature`) was the one further cut worth its diff. The API's own
`import app` keeps pydantic and every blueprint: it is where the routes are.

Measured with bytecode written: the benchmark's processes drop PYTHONDONTWRITEBYTECODE, which otherwise made
every process compile our modules while reading the installed packages' .pyc files. On AWS that is no detail:
`chalice package` puts no .pyc file in deployment.zip, and a Lambda function cannot write beside its code, so
every cold start compiled botocore, pynamodb and our modules anew. `routines package` now adds hash-based,
unchecked bytecode for every module of the zip (`packaging.add_bytecode`, for the runtime's Python only). In a
separate experiment (2026-12-01, the packaged prod zip unpacked twice, once with its .pyc files deleted; `python
-B`, 7 interleaved runs each, medians of CPU time): `import app` took 0.285 s with the bytecode against 0.62 s
without, the dispatcher's module 0.166 s against 0.367 s, the tick's 0.169 s against 0.374 s: each function's
import costs less than half of what it did on Lambda, more than any import edge could cut.""",
    "observability": """
Decision (2026-12-01, from this run on the shared 2-core machine above): keep our own writer; powertools is
not clearly better. Alone, its process starts slower (the ratios above: it imports `logging`, `jmespath`,
`typing_extensions` and its own package tree). Inside the app the gap nearly closes: in a separate experiment
the same day on the same machine (15 interleaved runs each), `import app` plus our setup took 219.5 ms and
`import app` plus powertools' 220.8 ms (CPU 218.8 against 220.2 ms), because botocore already imports
`logging` and the app `typing`, `dataclasses` and `enum`. So powertools saves no start-up time anywhere,
costs some outside the app, and would be one more runtime dependency packaged into each Lambda. What it adds
(the Lambda context in each line, debug sampling, `@log_metrics` flushing, a ColdStart metric) we do not use;
our writer is about 100 lines, writes the same EMF document with the dimensions we choose per metric, and
leaves one logging path.""",
    "api": """
Every route does more DynamoDB work than the trivial one (its requests per call, with the key cache warm, are in
the JSON line; section 3 has them by operation, cold too): the trivial route reads the companies in one
BatchGetItem; creating a routine reads its company with the assignee in one BatchGetItem and writes the routine
with its revision in one transaction; a manual run reads the routine and sends the dispatch transaction; a signed
webhook delivery reads its public id's item (which holds a copy of the trigger) with its three rate-limit
windows in one BatchGetItem, reads the routine, and sends the dispatch transaction, which also carries the
replay claim and the windows' hits. A warm API key costs no request. A p99 of a few hundred samples is the
handful of slowest requests of each kind and mostly shows the machine's noise: a p99 ratio below 1 means the
trivial route met the worst of it.

Why each request uses its own connection: on a kept-alive connection the Chalice dev server answers after a
~40 ms stall (headers and body go out as two segments with Nagle's algorithm on, and the client delays its
ACK). Measured once on this machine, sequentially: a 404 took 45 ms kept alive and 0.9 ms with TCP_NODELAY set
on the server's sockets; GET /api/companies took 60 ms kept alive and 6 ms on a new connection. Keep-alive
clients of `make run` see that stall on every call; `routines/local/server.py` could set
`disable_nagle_algorithm = True` on its request handler.""",
    "throughput": """
What the profile showed (py-spy `--gil`, 200 Hz, 20 s of 8 clients doing this mix against one `bench.serve`
process, run separately on 2026-12-01 with the machine's load average between 7 and 25, so shares rather than
times). The GIL was held in 42 % of the samples before the change and 45 % after: one process was not
saturated at 8 clients here, the cores were (DynamoDB Local used about 9.5 ms of CPU per request of the mix
and the API process about 7.3 ms, measured from /proc in the same runs). Shares of the GIL-holding samples:

| where | before | after |
|---|---:|---:|
| botocore's per-request path (serialise, sign, send, parse), under `pynamodb Connection.dispatch` | 64.7 % | 50.9 % |
| a new thread per connection (`ThreadingMixIn`: `Thread.start`, `Thread.__init__`, its `Condition`) | 6.5 % | 12.7 % |
| `socket.accept` and the selector (`TCPServer.get_request`) | 3.9 % | 6.1 % |
| http.server's header parsing (`email.parser`) | 5.4 % | 3.2 % |
| ours around the view (`_handle` outside `_invoke`: response dump, log line, metrics) | 1.7 % | 2.3 % |
| chalice local's event conversion and gateway (`LocalGateway.handle_request` outside the app) | 0.5 % | 0.5 % |
| chalice local's per-connection `LocalGateway` (sorting every route for each connection) | 0.3 % | gone |

Our own per-request work is a few percent: the one cheap removal made is the gateway, now built once per
server. The rest is botocore (one call of the mix sends 1 to 3 DynamoDB requests since section 3's changes, 2
to 7 when profiled) and the standard library's server. With two cores, DynamoDB Local needs more CPU per request
than the API does, so on this machine the limit is the two cores, shared by DynamoDB Local, the API processes
and the clients: `--workers 2` can only give the API the second core when DynamoDB Local is idle. The ratios
above say so (in a separate run of this benchmark while it was written, medians of 3 rounds at load averages
near 20: 1.07, 1.43, 1.14 and 0.82 at 1, 4, 8 and 16 clients). The CPU per request above was measured on that
busy machine, where contention inflates it: on a quiet machine one process answered about 210 requests/s of
this mix at its best (the table of `make bench` on 2026-12-01), so the single-process ceiling lies near there,
and on a machine with four or more cores N workers move the limit from the API process to DynamoDB Local
(Java, threaded) and the cores. Not done: a fixed pool of server threads instead of one new thread per
connection (the largest cost left in the server itself).""",
}
