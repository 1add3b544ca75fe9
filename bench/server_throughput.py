"""7. Local server throughput: requests per second of the API latency mix, one worker process against N.

Both servers run at once, each as `routines dev` serves the API (`bench.serve PORT WORKERS`: one process with
threads, or N forked processes sharing the port), against the bench's DynamoDB Local; they take turns, one
loaded at a time. At each number of clients, every client sends the four kinds of request of
`bench.api_latency` in turn, each on its own connection, and the figure is requests answered per second,
as a ratio to the single-worker server's at the same number of clients (median over rounds).
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.api_latency import KINDS, _Client, _over_http, served
from bench.fixtures import Tenant, make_tenant
from bench.stats import median, ratio


@dataclass(frozen=True)
class Sizes:
    clients: tuple[int, ...] = (1, 4, 8, 16)
    rounds: int = 3
    cycles: int = 48  # mix cycles (four requests each) per measurement, shared among the clients
    workers: int = os.cpu_count() or 1


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench throughput")
    rates: dict[int, dict[int, list[float]]] = {n: {c: [] for c in sizes.clients} for n in (1, sizes.workers)}
    with served(1) as single, served(sizes.workers) as multi:
        for _ in range(sizes.rounds):
            for clients in sizes.clients:
                for workers, base in ((1, single), (sizes.workers, multi)):
                    rates[workers][clients].append(_rate(base, tenant, clients, sizes.cycles))
    one, many = rates[1], rates[sizes.workers]
    ratios = {str(c): median([ratio(m, o) for m, o in zip(many[c], one[c], strict=True)]) for c in sizes.clients}
    most = max(sizes.clients)
    return {
        "benchmark": "server_throughput",
        "workers": sizes.workers,
        "clients": list(sizes.clients),
        "requestsPerMeasurement": {str(c): _requests(c, sizes.cycles) for c in sizes.clients},
        "singleWorkerRequestsPerSecond": {str(c): round(median(one[c]), 1) for c in sizes.clients},
        "workersRequestsPerSecond": {str(c): round(median(many[c]), 1) for c in sizes.clients},
        "workersVsSingleRatio": ratios,
        "singleScalingVsOneClient": {
            str(c): ratio(median(one[c]), median(one[sizes.clients[0]])) for c in sizes.clients
        },
        "targets": {f"workersAtLeastAsFastAt{most}Clients": ratios[str(most)] >= 1.0},
    }


def _requests(clients: int, cycles: int) -> int:
    return clients * max(1, cycles // clients) * len(KINDS)


def _rate(base: str, tenant: Tenant, clients: int, cycles: int) -> float:
    """Requests per second from `clients` callers at once (a failed request raises)."""
    url = urlsplit(base)
    callers = [_Client(tenant, url.path, _over_http(url), offset) for offset in range(clients)]
    iterations = max(1, cycles // clients)
    start = threading.Barrier(clients + 1)
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda caller: caller.prepare(iterations), callers))
        done = [pool.submit(caller.measure, iterations, start) for caller in callers]
        start.wait()
        began = time.perf_counter()
        for future in done:
            future.result()
        seconds = time.perf_counter() - began
    return _requests(clients, cycles) / seconds
