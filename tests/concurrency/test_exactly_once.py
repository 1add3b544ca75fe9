"""Exactly once under real concurrency: threads calling the API server, one DynamoDB Local."""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import requests
from botocore.awsrequest import AWSResponse

from chalicelib import runtime
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import RunSource, RunStatus
from chalicelib.domain.signing import sign_delivery
from chalicelib.services.runs import Firing, start_run
from chalicelib.store import routines
from chalicelib.store.tables import ClaimItem, RoutineItem
from tests.support import World

T = TypeVar("T")
OPEN = {"backlog", "todo", "in_progress", "in_review", "blocked"}


def all_at_once(world: World, count: int, call: Callable[[requests.Session, int], T]) -> list[T]:
    """Runs `call(session, i)` on `count` threads released together by a barrier.

    Each thread opens its keep-alive connection before the barrier: the local server's listen
    backlog is small, and a burst of new connections would be reset before reaching the API.
    """
    barrier = threading.Barrier(count)

    def released(i: int) -> T:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {world.board.key}"
            connect(session, world)
            barrier.wait()
            return call(session, i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))


def connect(session: requests.Session, world: World) -> None:
    for attempt in range(5):
        try:
            session.get(f"{world.base}/companies", timeout=60).raise_for_status()
            return
        except requests.ConnectionError:
            if attempt == 4:
                raise


def post(session: requests.Session, world: World, path: str, body: dict[str, Any]) -> requests.Response:
    return session.post(world.base + path, json=body, timeout=60)


def patch_issue(session: requests.Session, world: World, issue_id: str, status: str) -> requests.Response:
    return session.patch(f"{world.base}/issues/{issue_id}", json={"status": status}, timeout=60)


def runs_of(world: World, routine_id: str) -> list[dict[str, Any]]:
    return list(world.board.get(f"/routines/{routine_id}/runs", params={"limit": 200}).json())


def issues_of(world: World, routine_id: str) -> list[dict[str, Any]]:
    response = world.board.get(f"/companies/{world.company_id}/issues", params={"originId": routine_id})
    return list(response.json())


def open_set(routine_id: str) -> set[str]:
    return set(RoutineItem.get(routine_id, consistent_read=True).openIssues or ())


def assert_open_set_matches_issues(world: World, routine_id: str) -> None:
    """The routine's `openIssues` names exactly its open issues, and each run agrees with its issue."""
    issues = issues_of(world, routine_id)
    assert open_set(routine_id) == {f"{i['id']}:{i['originRunId']}" for i in issues if i["status"] in OPEN}
    runs = {run["id"]: run for run in runs_of(world, routine_id)}
    for issue in issues:
        origin = runs[issue["originRunId"]]
        assert origin["linkedIssueId"] == issue["id"]
        expected = {"done": "completed", "cancelled": "failed"}.get(issue["status"], "issue_created")
        assert origin["status"] == expected, (issue, origin)
    created = {run["linkedIssueId"] for run in runs.values() if run["status"] in ("issue_created", "completed")}
    assert created <= {issue["id"] for issue in issues}


def test_concurrent_manual_runs_of_a_coalescing_routine_create_one_issue(world: World) -> None:
    routine = world.routine(concurrencyPolicy="coalesce_if_active")
    path = f"/routines/{routine['id']}/run"

    responses = all_at_once(world, 20, lambda session, _: post(session, world, path, {}))

    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
    runs = [r.json() for r in responses]
    assert Counter(run["status"] for run in runs) == {"issue_created": 1, "coalesced": 19}
    [created] = [run for run in runs if run["status"] == "issue_created"]
    assert {run["linkedIssueId"] for run in runs} == {created["linkedIssueId"]}
    assert {run["coalescedIntoRunId"] for run in runs if run["status"] == "coalesced"} == {created["id"]}
    [issue] = issues_of(world, routine["id"])
    assert (issue["id"], issue["status"]) == (created["linkedIssueId"], "todo")
    assert len(runs_of(world, routine["id"])) == 20
    assert open_set(routine["id"]) == {f"{issue['id']}:{created['id']}"}


def test_concurrent_skipping_runs_create_one_issue(world: World) -> None:
    routine = world.routine(concurrencyPolicy="skip_if_active")
    path = f"/routines/{routine['id']}/run"

    responses = all_at_once(world, 12, lambda session, _: post(session, world, path, {}))

    assert [r.status_code for r in responses] == [202] * 12
    assert Counter(r.json()["status"] for r in responses) == {"issue_created": 1, "skipped": 11}
    assert len(issues_of(world, routine["id"])) == 1


def test_concurrent_runs_with_one_idempotency_key_make_one_run(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    path, body = f"/routines/{routine['id']}/run", {"idempotencyKey": "once", "payload": {"n": 1}}

    responses = all_at_once(world, 20, lambda session, _: post(session, world, path, body))

    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(runs_of(world, routine["id"])) == 1
    assert len(issues_of(world, routine["id"])) == 1


def test_concurrent_copies_of_one_signed_delivery_fire_once(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    created = world.trigger(routine["id"], kind="webhook", signingMode="hmac_sha256")
    url, secret = created["secretMaterial"]["webhookUrl"], created["secretMaterial"]["webhookSecret"]
    body = b'{"event": "push"}'
    headers = {"Content-Type": "application/json", **sign_delivery(secret, body, int(time.time()))}

    responses = all_at_once(world, 10, lambda session, _: session.post(url, data=body, headers=headers, timeout=60))

    assert sorted(r.status_code for r in responses) == [202] + [409] * 9, [r.text for r in responses]
    [accepted] = [r.json() for r in responses if r.status_code == 202]
    assert [run["id"] for run in runs_of(world, routine["id"])] == [accepted["id"]]
    assert len(issues_of(world, routine["id"])) == 1


def test_concurrent_retries_of_one_bearer_delivery_with_a_key_fire_once(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    created = world.trigger(routine["id"], kind="webhook")
    url, secret = created["secretMaterial"]["webhookUrl"], created["secretMaterial"]["webhookSecret"]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}", "Idempotency-Key": "evt"}

    responses = all_at_once(world, 10, lambda session, _: session.post(url, data=b"{}", headers=headers, timeout=60))

    assert [r.status_code for r in responses] == [202] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(runs_of(world, routine["id"])) == 1


def test_closing_issues_while_firings_arrive_keeps_the_open_set_true(world: World) -> None:
    enqueue = world.routine(concurrencyPolicy="always_enqueue")
    coalesce = world.routine(concurrencyPolicy="coalesce_if_active")
    fire_rounds, close_rounds = 6, 8

    def fire(session: requests.Session, i: int) -> list[int]:
        path = f"/routines/{(enqueue, coalesce)[i % 2]['id']}/run"
        return [post(session, world, path, {}).status_code for _ in range(fire_rounds)]

    def close(session: requests.Session, i: int) -> list[int]:
        routine_id = (enqueue, coalesce)[i % 2]["id"]
        statuses = []
        for round_ in range(close_rounds):
            listed = session.get(
                f"{world.base}/companies/{world.company_id}/issues", params={"originId": routine_id}, timeout=60
            ).json()
            for issue in listed:
                if issue["status"] in OPEN:
                    closed_as = "done" if round_ % 3 else "cancelled"
                    statuses.append(patch_issue(session, world, issue["id"], closed_as).status_code)
        return statuses

    results = all_at_once(world, 16, lambda session, i: fire(session, i) if i < 8 else close(session, i))

    fired = [status for statuses in results[:8] for status in statuses]
    closed = [status for statuses in results[8:] for status in statuses]
    assert set(fired) == {202}
    assert set(closed) <= {200, 409}
    assert 200 in closed
    for routine in (enqueue, coalesce):
        assert_open_set_matches_issues(world, routine["id"])
    assert len([i for i in issues_of(world, coalesce["id"]) if i["status"] in OPEN]) <= 1
    assert len(runs_of(world, enqueue["id"])) == len(issues_of(world, enqueue["id"])) == 4 * fire_rounds
    assert len(runs_of(world, coalesce["id"])) == 4 * fire_rounds


def test_reopening_and_closing_while_firings_arrive_keeps_the_open_set_true(world: World) -> None:
    routine = world.routine(concurrencyPolicy="coalesce_if_active")
    path = f"/routines/{routine['id']}/run"
    first = world.board.post(path, {}).json()

    def toggle(session: requests.Session, i: int) -> list[int]:
        statuses = ("done", "todo", "cancelled", "in_progress")
        return [
            patch_issue(session, world, first["linkedIssueId"], statuses[(i + n) % 4]).status_code for n in range(8)
        ]

    def fire(session: requests.Session, _: int) -> list[int]:
        return [post(session, world, path, {}).status_code for _ in range(5)]

    results = all_at_once(world, 8, lambda session, i: toggle(session, i) if i < 4 else fire(session, i))

    assert {status for statuses in results[:4] for status in statuses} <= {200, 409}
    assert {status for statuses in results[4:] for status in statuses} == {202}
    assert_open_set_matches_issues(world, routine["id"])


class LosingRaces:
    """Answers the next `count` transactions as real DynamoDB does when concurrent transactions collide.

    DynamoDB Local serialises transactions and never answers `TransactionConflict`, so the
    contention real DynamoDB produces is injected at the botocore boundary.
    """

    EVENT = "before-call.dynamodb.TransactWriteItems"

    def __init__(self, count: int) -> None:
        self.left = count
        self.client = ClaimItem._get_connection().connection.client

    def __enter__(self) -> "LosingRaces":
        self.client.meta.events.register_first(self.EVENT, self.answer)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister(self.EVENT, self.answer)

    def answer(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.left == 0:
            return None
        self.left -= 1
        items = len(json.loads(params["body"])["TransactItems"])
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (items - 1)
        return AWSResponse(None, 400, {}, None), {"Error": error, "CancellationReasons": reasons}


def fire_in_process(routine_id: str) -> RunStatus:
    routine = routines.get_routine(routine_id)
    assert routine
    return start_run(routine, Firing(RunSource.manual), runtime.now(), runtime.new_id).run.status


def test_a_dispatch_that_keeps_losing_transaction_races_tries_again(world: World) -> None:
    routine = world.routine()

    with LosingRaces(7) as races:
        status = fire_in_process(routine["id"])

    assert (status, races.left) == (RunStatus.issue_created, 0)
    [run] = runs_of(world, routine["id"])
    [issue] = issues_of(world, routine["id"])
    assert run["linkedIssueId"] == issue["id"]
    assert_open_set_matches_issues(world, routine["id"])


def test_a_dispatch_that_never_wins_a_race_is_a_conflict_and_writes_nothing(world: World) -> None:
    routine = world.routine()

    with LosingRaces(10_000), pytest.raises(Conflict):
        fire_in_process(routine["id"])

    assert runs_of(world, routine["id"]) == []
    assert issues_of(world, routine["id"]) == []
    assert open_set(routine["id"]) == set()
