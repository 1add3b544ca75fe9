"""bench/RESULTS.md and the tick-cost chart, from the results of one `make bench`."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
RESULTS = "RESULTS.md"
CHART = "tick_cost.png"
LAG_CHART = "fire_lag.png"
Result = dict[str, Any]


def write(
    results: list[Result], machine: dict[str, str], load_after: str, seconds: float, directory: Path = HERE
) -> Path:
    """Writes RESULTS.md, tick_cost.png and fire_lag.png into `directory`; returns the path of RESULTS.md."""
    by_name = {result["benchmark"]: result for result in results}
    chart(by_name["tick_cost"], directory / CHART)
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
    axes.set_xlabel("stored triggers in the due index (the same 100 due)")
    axes.set_ylabel(f"relative to {stored[0]:,} stored")
    axes.set_title("Tick cost vs stored triggers")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
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
{NOTES["requests"]}"""


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
    return f"""## 5. Cold start

`python -c "{r["app"]}"` against `python -c "{r["baseline"]}"`, whole processes, {r["runs"]} runs each,
interleaved; medians.

- **ratio (wall clock): {r["ratio"]}**; ratio of the processes' CPU time: {r["cpuTimeRatio"]} (less
  disturbed by busy neighbours).
- Where `import app` spends its time (own import time by top-level package): {shares}.
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
}

NOTES = {
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
firing in 20 makes that third request. Over HTTP the run view also reads the API key (one GetItem, not counted
here: it is authentication, not `start_run`).

A scheduled firing through `dispatch_due` (one trigger, as a test or a retry would) costs 3: the trigger's
consistent re-read (the `due` index entry may be stale or behind a pause; a stale entry must cost a read, never a
duplicate), the routine's read, and one transaction that writes routine, issue, run and slot claim and advances
the trigger together. The tick dispatches through `dispatch_all`, which reads triggers and routines in
consistent batches of 100: per due trigger that is one transaction plus a fiftieth of a BatchGetItem, and the
find step's Query per shard (see the full tick's requests in section 1).""",
    "cron": """
A measurement showed the need for the one code change this benchmark made. Before it, `parse_schedule` +
`next_fire_after` ran at 2.1 times croniter's speed: half our time went to validating the stored expression
again on every call (`_check_fires`: a cronsim parse and a search from 2000). `parse_schedule` now keeps its
answers (`functools.lru_cache(maxsize=4096)` on expression and zone: a pure function of its arguments; errors
are not cached), as the tick parses the stored expression of every due trigger and triggers share expressions.
With every expression new (the second figure) it is still about 2 times croniter's speed.""",
    "cold_start": """
What limits it: importing `app` imports every blueprint, and with them pydantic, pynamodb (which brings botocore,
as the baseline does) and our request models. In separate `-X importtime` measurements (fastest of 5),
pydantic with pydantic_core, annotated_types and typing_inspection took 35 to 45 ms, against about 100 ms for
everything the baseline imports. Two measured changes are in the code: the request models are built on first
use (`defer_build=True`), and the OpenAPI document with its response models is imported only by its own view;
together they took the CPU-time ratio from about 2.15 to about 1.9. The dataclasses of `chalicelib.domain.models`
(about 13 ms) and pydantic itself remain. While pydantic is imported at start, 1.3 cannot be reached; the tick
and dispatch functions need neither pydantic nor the API, so giving them an import path of their own (a second
Chalice app module, or lazy blueprint registration) is what would reach it for them.""",
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
Every route does more DynamoDB work than the trivial one (its requests per call are in the JSON line:
authentication is one of them everywhere): creating a routine also checks the assignee and writes the routine,
a manual run reads the routine and sends the dispatch transaction, and a webhook delivery is counted in two
rate-limit windows (per public id and per address: an UpdateItem each), resolves its public id, reads the
trigger and the routine and sends the transaction with its replay claim. The p50 ratios follow those counts. A
p99 of a few hundred samples is the handful of slowest requests of each kind and mostly shows the machine's
noise: a p99 ratio below 1 means the trivial route met the worst of it.

Why each request uses its own connection: on a kept-alive connection the Chalice dev server answers after a
~40 ms stall (headers and body go out as two segments with Nagle's algorithm on, and the client delays its
ACK). Measured once on this machine, sequentially: a 404 took 45 ms kept alive and 0.9 ms with TCP_NODELAY set
on the server's sockets; GET /api/companies took 60 ms kept alive and 6 ms on a new connection. Keep-alive
clients of `make run` see that stall on every call; `routines/local/server.py` could set
`disable_nagle_algorithm = True` on its request handler.""",
}
