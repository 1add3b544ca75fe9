"""What the busiest routes cost in DynamoDB requests, authentication included, counted over HTTP on the
botocore clients of the API server (it runs in this process). Counts are deterministic, so they are asserted:
at most 3 for each route in its common path (a key seen in the last `key_cache_seconds`, an issue number
already reserved)."""

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from chalicelib import runtime
from chalicelib.domain.signing import sign_delivery
from chalicelib.store import directory
from routines.metering import counting_requests
from tests.support import SESSION, Client, World, json_of


def _counted(send: Callable[[], requests.Response], status: int) -> Counter[str]:
    with counting_requests() as sent:
        response = send()
    assert response.status_code == status, response.text
    return sent


def _cold() -> None:
    """Forgets every key this process has seen, as a fresh Lambda container would have."""
    directory.PRINCIPALS.configure(runtime.settings().key_cache_seconds)


@pytest.fixture
def warm(world: World) -> World:
    """Each key used once and the company's block of issue numbers reserved (one extra request every 20)."""
    routine_id = world.routine(concurrencyPolicy="always_enqueue")["id"]
    json_of(world.alpha.post(f"/routines/{routine_id}/run", {}), 202)
    return world


def _create(world: World, client: Client) -> requests.Response:
    body = {"title": "Counted", "assigneeAgentId": world.alpha_id, "projectId": world.project_id}
    return client.post(f"/companies/{world.company_id}/routines", body)


def _run(client: Client, routine_id: str) -> requests.Response:
    return client.post(f"/routines/{routine_id}/run", {})


def test_creating_a_routine_costs_one_batch_and_the_transaction(warm: World) -> None:
    # The company, its project and the assignee in one BatchGetItem, then the routine with its revision.
    assert _counted(lambda: _create(warm, warm.board), 201) == {"BatchGetItem": 1, "TransactWriteItems": 1}


def test_creating_a_routine_with_a_cold_board_key_costs_three(warm: World) -> None:
    _cold()
    sent = _counted(lambda: _create(warm, warm.board), 201)
    assert sent == {"GetItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1}


def test_a_manual_run_costs_the_routine_and_the_transaction(warm: World) -> None:
    routine_id = warm.routine(concurrencyPolicy="always_enqueue")["id"]
    assert _counted(lambda: _run(warm.alpha, routine_id), 202) == {"GetItem": 1, "TransactWriteItems": 1}


def test_a_manual_run_with_a_cold_board_key_costs_three(warm: World) -> None:
    routine_id = warm.routine(concurrencyPolicy="always_enqueue")["id"]
    _cold()
    assert _counted(lambda: _run(warm.board, routine_id), 202) == {"GetItem": 2, "TransactWriteItems": 1}


def test_a_cold_agent_key_also_reads_its_agent(warm: World) -> None:
    # Outside the common path: a container's first call with an agent key checks the agent is not terminated.
    routine_id = warm.routine(concurrencyPolicy="always_enqueue")["id"]
    _cold()
    assert _counted(lambda: _run(warm.alpha, routine_id), 202) == {"GetItem": 3, "TransactWriteItems": 1}


def _signed_hook(world: World) -> tuple[str, str]:
    routine_id = world.routine(concurrencyPolicy="always_enqueue")["id"]
    created = world.trigger(routine_id, kind="webhook", signingMode="hmac_sha256")
    return created["secretMaterial"]["webhookUrl"], created["secretMaterial"]["webhookSecret"]


def _deliver(url: str, secret: str, body: bytes, headers: dict[str, Any] | None = None) -> requests.Response:
    signed = {"Content-Type": "application/json", **sign_delivery(secret, body, int(time.time())), **(headers or {})}
    return SESSION.post(url, data=body, headers=signed, timeout=30)


def test_a_signed_webhook_costs_one_batch_the_routine_and_the_transaction(warm: World) -> None:
    # The public id's trigger with the three rate-limit windows, the routine, then the dispatch (replay claim
    # and window hits included).
    url, secret = _signed_hook(warm)
    sent = _counted(lambda: _deliver(url, secret, json.dumps({"n": 1}).encode()), 202)
    assert sent == {"BatchGetItem": 1, "GetItem": 1, "TransactWriteItems": 1}


def test_a_refused_webhook_costs_one_batch_and_the_count_of_its_hits(warm: World) -> None:
    url, _ = _signed_hook(warm)
    sent = _counted(lambda: _deliver(url, "not the secret", b"{}"), 401)
    assert sent == {"BatchGetItem": 1, "TransactWriteItems": 1}
