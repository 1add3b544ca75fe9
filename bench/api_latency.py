"""6. API latency through the local server: p50 and p99 of three writes, each as a ratio to a trivial read.

The server runs in its own process (`bench.serve`), as `make run` runs it; N client threads here each send
the four kinds of request in turn, starting at different kinds, so every kind meets the same load.
The trivial route is GET /api/companies with a board key: authentication (one GetItem) and one
BatchGetItem, the least any authenticated route does.

Every request goes on its own connection. On a kept-alive connection the Chalice dev server's responses
wait ~40 ms for the client's delayed ACK (it writes headers and body in two segments and leaves Nagle's
algorithm on), which would swamp what the code costs; see RESULTS.md.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from typing import Any
from urllib.error import HTTPError
from urllib.parse import SplitResult, urlsplit
from urllib.request import urlopen

from bench.dynamo import Meter
from bench.fixtures import Tenant, make_tenant
from bench.stats import median, percentile, ratio
from chalicelib.domain.signing import sign_delivery
from routines.local.dynamodb import free_port

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("trivial", "createRoutine", "manualRun", "webhookFire")
WEBHOOK_BODY = json.dumps({"event": "bench"}).encode()
_TURNS = (("trivial",), ("createRoutine", "manualRun"), ("webhookFire",))  # a run needs its routine first


@dataclass(frozen=True)
class Sizes:
    clients: int = 4
    rounds: int = 3
    iterations: int = 40  # per client and round


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench API")
    with served() as base:
        rounds = [_round(base, tenant, sizes) for _ in range(sizes.rounds)]
    counts = requests_per_call(tenant)
    result: dict[str, Any] = {
        "benchmark": "api_latency",
        "clients": sizes.clients,
        "samplesPerKind": sizes.clients * sizes.iterations * sizes.rounds,
        "trivialRoute": "GET /api/companies (board key)",
    }
    for kind in KINDS[1:]:
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            paired = [ratio(percentile(r[kind], fraction), percentile(r["trivial"], fraction)) for r in rounds]
            result[f"{kind}{name.upper()}Ratio"] = median(paired)
    result["dynamodbRequestsPerCall"] = counts
    result["trivialP50Ms"] = round(median([percentile(r["trivial"], 0.5) for r in rounds]) * 1000, 1)
    return result


@contextmanager
def served(workers: int = 1) -> Iterator[str]:
    """The API in a child process on a free port (in `workers` processes of its own above 1); yields its
    base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", str(port), str(workers)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bench.serve exited with code {process.returncode}")
        try:
            urlopen(f"{base}/health", timeout=1)
            return
        except HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not start")


def _round(base: str, tenant: Tenant, sizes: Sizes) -> dict[str, list[float]]:
    """Latencies (seconds) by kind, from all clients at once."""
    url = urlsplit(base)
    clients = [_Client(tenant, url.path, _over_http(url), offset) for offset in range(sizes.clients)]
    start = threading.Barrier(sizes.clients)
    with ThreadPoolExecutor(sizes.clients) as pool:
        for _ in pool.map(lambda client: client.prepare(sizes.iterations), clients):
            pass
        for _ in pool.map(lambda client: client.measure(sizes.iterations, start), clients):
            pass
    return {kind: [sample for client in clients for sample in client.samples[kind]] for kind in KINDS}


Send = Callable[[str, str, bytes | None, dict[str, str]], bytes]


def _over_http(url: SplitResult) -> Send:
    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        """One request on its own connection."""
        connection = HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        try:
            connection.request(method, path, body, {**headers, "Connection": "close"})
            response = connection.getresponse()
            return _checked(method, path, response.status, response.read())
        finally:
            connection.close()

    return send


def _in_process(client: Any) -> Send:
    """Through `chalice.test.Client`: the same app in this process, where its requests can be counted."""

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        response = client.http.request(method, path, headers=headers, body=body or b"")
        return _checked(method, path, response.status_code, response.body)

    return send


def _checked(method: str, path: str, status: int, data: bytes) -> bytes:
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
    return data


def requests_per_call(tenant: Tenant, cycles: int = 3) -> dict[str, int]:
    """DynamoDB requests each kind of call makes (the most common count over a few calls)."""
    from chalice.test import Client

    from app import app

    counts: dict[str, list[int]] = {kind: [] for kind in KINDS}
    with Client(app, stage_name="dev", project_dir=REPO) as client:
        caller = _Client(tenant, "/api", _in_process(client), 0)
        caller.prepare(cycles)
        for hook in caller.hooks:
            work = caller.work(hook)
            for kind in KINDS:
                with Meter() as meter:
                    work[kind]()
                counts[kind].append(meter.tally.total)
    return {kind: statistics.mode(counted) for kind, counted in counts.items()}


class _Client:
    """One caller; its webhook triggers are made before the timed part."""

    def __init__(self, tenant: Tenant, prefix: str, send: Send, offset: int) -> None:
        self.prefix, self.send = prefix, send
        self.tenant, self.offset = tenant, offset
        self.hooks: list[tuple[str, str]] = []
        self.samples: dict[str, list[float]] = {kind: [] for kind in KINDS}

    def prepare(self, iterations: int) -> None:
        for _ in range(iterations):
            routine = self._create_routine()
            hook = {"kind": "webhook", "signingMode": "hmac_sha256"}
            material = self._api("POST", f"/routines/{routine}/triggers", hook)["secretMaterial"]
            self.hooks.append((urlsplit(material["webhookUrl"]).path, material["webhookSecret"]))

    def measure(self, iterations: int, start: threading.Barrier) -> None:
        start.wait()
        for index in range(iterations):
            work = self.work(self.hooks[index])
            turn = (index + self.offset) % len(_TURNS)
            for kind in (kind for unit in _TURNS[turn:] + _TURNS[:turn] for kind in unit):
                started = time.perf_counter()
                work[kind]()
                self.samples[kind].append(time.perf_counter() - started)

    def work(self, hook: tuple[str, str]) -> dict[str, Callable[[], Any]]:
        """One call of each kind; the run is of the routine the create call made."""
        created: list[str] = []
        return {
            "trivial": lambda: self._api("GET", "/companies"),
            "createRoutine": lambda: created.append(self._create_routine()),
            "manualRun": lambda: self._api("POST", f"/routines/{created[0]}/run", {}),
            "webhookFire": lambda: self._fire(*hook),
        }

    def _create_routine(self) -> str:
        body = {"title": "Bench routine", "assigneeAgentId": self.tenant.agent_id}
        return str(self._api("POST", f"/companies/{self.tenant.company_id}/routines", body)["id"])

    def _fire(self, path: str, secret: str) -> None:
        headers = {"Content-Type": "application/json", **sign_delivery(secret, WEBHOOK_BODY, int(time.time()))}
        self.send("POST", path, WEBHOOK_BODY, headers)

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tenant.board_key}", "Content-Type": "application/json"}
        payload = json.dumps(body).encode() if body is not None else None
        return json.loads(self.send(method, self.prefix + path, payload, headers))
