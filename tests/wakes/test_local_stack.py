"""`routines dev --no-tick` still wakes agents: the stream reader runs without the scheduler."""

import threading
from typing import Any

import requests

from tests.scheduler.test_cli import dev_stack  # noqa: F401 - the fixture, used by name
from tests.wakes.test_wakes import Receiver, verified


def test_a_no_tick_dev_stack_wakes_a_receiver_on_127_0_0_1(dev_stack: dict[str, Any]) -> None:  # noqa: F811
    receiver = Receiver().start()
    try:
        base, board = dev_stack["baseUrl"], {"Authorization": f"Bearer {dev_stack['boardApiKey']}"}
        adapter = {"adapterType": "http", "adapterConfig": {"url": receiver.url}}
        agent = requests.post(
            f"{base}/companies/{dev_stack['companyId']}/agents",
            json={"name": "Hooky", **adapter},
            headers=board,
            timeout=30,
        ).json()
        routine = requests.post(
            f"{base}/companies/{dev_stack['companyId']}/routines",
            json={"title": "Wake me", "assigneeAgentId": agent["id"]},
            headers=board,
            timeout=30,
        ).json()
        run = requests.post(f"{base}/routines/{routine['id']}/run", json={}, headers=board, timeout=30).json()
        waiting = threading.Event()
        for _ in range(600):
            if receiver.for_issue(run["linkedIssueId"]):
                break
            waiting.wait(0.05)
        [got] = receiver.for_issue(run["linkedIssueId"])
        assert verified(agent["wakeSecret"], got)
    finally:
        receiver.stop()
