"""The benchmarks in the issue's order, at full size (`make bench`) or tiny (the smoke test)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import (
    api_latency,
    burst,
    cold_start,
    cron_speed,
    dispatch_rate,
    fire_lag,
    request_count,
    server_throughput,
    status_speed,
    tick_cost,
)

Result = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    tick: tick_cost.Sizes = field(default_factory=tick_cost.Sizes)
    dispatch: dispatch_rate.Sizes = field(default_factory=dispatch_rate.Sizes)
    requests: request_count.Sizes = field(default_factory=request_count.Sizes)
    cron: cron_speed.Sizes = field(default_factory=cron_speed.Sizes)
    startup: cold_start.Sizes = field(default_factory=cold_start.Sizes)
    api: api_latency.Sizes = field(default_factory=api_latency.Sizes)
    lag: fire_lag.Sizes = field(default_factory=fire_lag.Sizes)
    throughput: server_throughput.Sizes = field(default_factory=server_throughput.Sizes)
    status: status_speed.Sizes = field(default_factory=status_speed.Sizes)
    fanout: burst.Sizes = field(default_factory=burst.Sizes)


FULL = Plan()
TINY = Plan(
    tick_cost.Sizes(stored=(20, 40), due=5, find_reps=2, tick_reps=1, warmup=0),
    dispatch_rate.Sizes(triggers=6, reps=1, blocks=2),
    request_count.Sizes(runs=3, route_calls=2),
    cron_speed.Sizes(triggers=40, reps=1),
    cold_start.Sizes(runs=1),
    api_latency.Sizes(clients=2, rounds=1, iterations=2),
    fire_lag.Sizes(burst=5, singles=2, single_spacing_seconds=0.5, tick_seconds=1.0, burst_on_multiple_of_seconds=1),
    server_throughput.Sizes(clients=(1, 2), rounds=1, cycles=2, workers=2),
    status_speed.Sizes(routines=5, runs=1),
    burst.Sizes(triggers=60, processes=(1, 2)),
)


def run_all(plan: Plan, emit: Callable[[Result], None]) -> list[Result]:
    """Runs every benchmark in turn, handing each result to `emit` as soon as it is known."""
    steps: list[Callable[[], Result]] = [
        lambda: tick_cost.run(plan.tick),
        lambda: dispatch_rate.run(plan.dispatch),
        lambda: request_count.run(plan.requests),
        lambda: cron_speed.run(plan.cron),
        lambda: cold_start.run(plan.startup),
        lambda: api_latency.run(plan.api),
        lambda: fire_lag.run(plan.lag),
        lambda: server_throughput.run(plan.throughput),
        lambda: status_speed.run(plan.status),
        lambda: burst.run(plan.fanout),
    ]
    results = []
    for step in steps:
        results.append(step())
        emit(results[-1])
    return results
