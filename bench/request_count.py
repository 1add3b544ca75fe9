"""3. Requests per dispatch and per route: DynamoDB requests in the common path of a manual run and of a
scheduled firing, and of three routes through the real handler (`chalice.test.Client` over `app`), their
authentication included, with the key cache warm (the common path) and cold (a container's first call)."""

import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.dynamo import Meter, Tally, write_all
from bench.fixtures import Tenant, make_tenant, population
from chalicelib import runtime
from chalicelib.domain.signing import sign_delivery
from chalicelib.domain.timefmt import frozen_at, to_iso
from chalicelib.services.auth import issue_key
from chalicelib.services.commands import RunRoutine
from chalicelib.services.routines import load_routine
from chalicelib.services.runs import run_routine
from chalicelib.services.scheduler import default_pool, dispatch_all
from chalicelib.store import directory

FIRE_AT = datetime(2097, 1, 1, 0, 0, 30, tzinfo=UTC)
DUE_AT = "2097-01-01T00:00:00.000Z"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTE_TARGET = 3


@dataclass(frozen=True)
class Sizes:
    runs: int = 60  # three blocks of the issue-number allocator (it reserves 20 numbers per request)
    route_calls: int = 20  # per route and cache state


def run(sizes: Sizes) -> dict[str, Any]:
    tenant = make_tenant("Bench requests")
    by_hand, by_schedule = population(tenant, sizes.runs, DUE_AT), population(tenant, sizes.runs, DUE_AT)
    with ThreadPoolExecutor(8) as pool:
        for items in (by_hand.routines, by_schedule.routines, by_schedule.triggers):
            write_all(items, pool)
    manual = [_metered(lambda r=routine.id: _manual_run(r, tenant.agent)) for routine in by_hand.routines]
    scheduled = [_metered(lambda t=trigger_id: _scheduled(t)) for trigger_id in by_schedule.trigger_ids]
    manual_common = _common(manual)
    scheduled_common = _common(scheduled)
    routes = per_route(tenant, sizes.route_calls)
    return {
        "benchmark": "requests_per_dispatch",
        "runs": sizes.runs,
        "startRunCommonPath": manual_common,
        "startRunMean": _mean(manual),
        "startRunByOperation": _by_operation(manual),
        "scheduledCommonPath": scheduled_common,
        "scheduledMean": _mean(scheduled),
        "scheduledByOperation": _by_operation(scheduled),
        **routes,
        "targets": {
            "startRun<=2": manual_common <= 2,
            **{f"{route}<={ROUTE_TARGET}": routes["routesWarm"][route] <= ROUTE_TARGET for route in ROUTES},
        },
    }


def _manual_run(routine_id: str, principal: Any) -> None:
    """What the run view does after authentication: read the routine, then `start_run` through `run_routine`."""
    run = run_routine(principal, load_routine(routine_id), RunRoutine(), FIRE_AT, runtime.new_id)
    assert run.status == "issue_created", run.status


def _scheduled(trigger_id: str) -> None:
    """The tick's work for one due trigger found by the find step."""
    with default_pool() as pool:
        [outcome] = dispatch_all([trigger_id], frozen_at(FIRE_AT), runtime.new_id, pool)
    assert outcome.runs["issue_created"] == 1, outcome


def _metered(work: Callable[[], None]) -> Tally:
    with Meter() as meter:
        work()
    return meter.tally


def _common(tallies: list[Tally]) -> int:
    """The request count most firings need."""
    return statistics.mode(tally.total for tally in tallies)


def _mean(tallies: list[Tally]) -> float:
    return round(statistics.fmean(tally.total for tally in tallies), 3)


def _by_operation(tallies: list[Tally]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for tally in tallies:
        total.update(tally.requests)
    return {operation: round(count / len(tallies), 3) for operation, count in sorted(total.items())}


ROUTES = ("createRoutine", "manualRun", "signedWebhook")
_KEYS = ("boardKey", "agentKey")


def per_route(tenant: Tenant, calls: int) -> dict[str, Any]:
    """Requests per call of each route (the most common count over `calls` calls): with the key cache warm,
    and cold for either kind of key (the agent key's also reads its agent); the warm mix by operation."""
    from chalice.test import Client

    from app import app

    agent_key = issue_key(tenant.agent, "bench", to_iso(runtime.now()))
    warm: dict[str, list[Tally]] = {route: [] for route in ROUTES}
    cold: dict[str, list[int]] = {f"{route}.{key}": [] for route in ROUTES[:2] for key in _KEYS}
    with Client(app, stage_name="dev", project_dir=REPO) as client:
        caller = _Caller(client, tenant, {"boardKey": tenant.board_key, "agentKey": agent_key})
        caller.manual_run(caller.create_routine("boardKey"), "agentKey")  # each key seen, issue numbers reserved
        for _ in range(calls):
            hook = caller.webhook(caller.create_routine("boardKey"))
            for route, work in caller.routes(hook).items():
                warm[route].append(_metered(work))
            for key in _KEYS:
                for route, work in caller.routes(hook, key).items():
                    if route in ROUTES[:2]:
                        directory.PRINCIPALS.configure(runtime.settings().key_cache_seconds)  # a new container
                        cold[f"{route}.{key}"].append(_metered(work).total)
    return {
        "routeCalls": calls,
        "keyCacheSeconds": runtime.settings().key_cache_seconds,
        "routesWarm": {route: _common(tallies) for route, tallies in warm.items()},
        "routesWarmByOperation": {route: _by_operation(tallies) for route, tallies in warm.items()},
        "routesCold": {name: statistics.mode(counts) for name, counts in cold.items()},
    }


class _Caller:
    """Calls the routes in process, as a client would over HTTP."""

    def __init__(self, client: Any, tenant: Tenant, keys: dict[str, str]) -> None:
        self.client, self.tenant, self.keys = client, tenant, keys
        self.routine_ids: list[str] = []

    def routes(self, hook: tuple[str, str], key: str = "agentKey") -> dict[str, Callable[[], None]]:
        """One call of each route; the manual run is of the routine the create call made."""
        return {
            "createRoutine": lambda: self.routine_ids.append(self.create_routine(key)),
            "manualRun": lambda: self.manual_run(self.routine_ids[-1], key),
            "signedWebhook": lambda: self._fire(*hook),
        }

    def create_routine(self, key: str) -> str:
        body = {"title": "Counted", "assigneeAgentId": self.tenant.agent_id, "concurrencyPolicy": "always_enqueue"}
        return str(self._api(key, "POST", f"/companies/{self.tenant.company_id}/routines", body, 201)["id"])

    def manual_run(self, routine_id: str, key: str) -> None:
        self._api(key, "POST", f"/routines/{routine_id}/run", {}, 202)

    def webhook(self, routine_id: str) -> tuple[str, str]:
        hook = {"kind": "webhook", "signingMode": "hmac_sha256"}
        material = self._api("boardKey", "POST", f"/routines/{routine_id}/triggers", hook, 201)["secretMaterial"]
        return "/api" + str(material["webhookUrl"]).split("/api", 1)[1], str(material["webhookSecret"])

    def _fire(self, path: str, secret: str) -> None:
        body = json.dumps({"event": "bench"}).encode()
        headers = {"Content-Type": "application/json", **sign_delivery(secret, body, int(time.time()))}
        self._send("POST", path, body, headers, 202)

    def _api(self, key: str, method: str, path: str, body: Any, status: int) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[key]}", "Content-Type": "application/json"}
        return json.loads(self._send(method, f"/api{path}", json.dumps(body).encode(), headers, status))

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str], status: int) -> bytes:
        response = self.client.http.request(method, path, headers=headers, body=body)
        if response.status_code != status:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.body[:200]!r}")
        return bytes(response.body)
