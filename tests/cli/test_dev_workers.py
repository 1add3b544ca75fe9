"""`routines dev --workers 2`: two API processes on one port; DynamoDB Local, the tick and wakes in the parent."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.domain.timefmt import from_iso, to_iso
from routines.local.dynamodb import free_port
from tests.scheduler.test_cli import ROUTINES, _stop, _wait_for_dev_json


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    data_dir: Path
    out: Path
    err: Path

    @property
    def board(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['boardApiKey']}"}

    def url(self, path: str) -> str:
        return f"{self.info['baseUrl']}{path}"

    def children(self) -> list[int]:
        return children_of(self.process.pid)

    def workers(self) -> list[int]:
        """The forked API processes: children running the same command as the parent."""
        command = Path(f"/proc/{self.process.pid}/cmdline").read_bytes()
        return [pid for pid in self.children() if _cmdline(pid) == command]

    def routine(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "Workers", "assigneeAgentId": self.info["agents"][0]["id"], **fields}
        path = f"/companies/{self.info['companyId']}/routines"
        created = requests.post(self.url(path), json=body, headers=self.board, timeout=30)
        assert created.status_code == 201, created.text
        return dict(created.json())

    def runs(self, routine_id: str) -> list[dict[str, Any]]:
        answer = requests.get(self.url(f"/routines/{routine_id}/runs?limit=100"), headers=self.board, timeout=30)
        return list(answer.json())


def worker_lines(stack: Stack, count: int) -> list[str]:
    """The PIDs the workers' start lines name, once `count` have printed theirs (each prints after it forks, so
    possibly after dev.json is written)."""
    for _ in range(300):
        named = [line.split()[1] for line in stack.out.read_text().splitlines() if line.startswith("worker ")]
        if len(named) >= count:
            return named
        time.sleep(0.1)
    return named


def stopped(pid: int) -> None:
    """Waits until a signalled process is stopped: `kill` returns before it is, and meanwhile it may still
    accept a connection, which would then wait for SIGCONT."""
    for _ in range(300):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


def children_of(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the tests that leave it running."""
    yield from _started(tmp_path_factory.mktemp("workers"))


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack for a test that stops it."""
    yield from _started(tmp_path)


def _started(tmp_path: Path) -> Iterator[Stack]:
    """`routines dev --workers 2 --tick-seconds 1` of its own (its own DynamoDB Local), always stopped."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROUTINES_")}
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    data_dir = tmp_path / "data"
    command = [*ROUTINES, "dev", "--workers", "2", "--tick-seconds", "1", "--port", str(free_port())]
    with out.open("wb") as sink, err.open("wb") as errors:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)], env=env, stdout=sink, stderr=errors, start_new_session=True
        )
    try:
        yield Stack(process, _wait_for_dev_json(data_dir, process), data_dir, out, err)
    finally:
        _stop(process)


def test_two_workers_start_and_each_one_alone_answers_requests(stack: Stack) -> None:
    workers = stack.workers()
    assert len(workers) == 2
    assert len(stack.children()) == 3  # the workers and DynamoDB Local
    assert sorted(worker_lines(stack, len(workers))) == sorted(map(str, workers))
    assert "served by 2 processes" in stack.out.read_text()
    routine = stack.routine(concurrencyPolicy="always_enqueue")

    made = []
    for alone in workers:
        other = next(pid for pid in workers if pid != alone)
        os.kill(other, signal.SIGSTOP)  # the port is shared: every connection now goes to `alone`
        try:
            stopped(other)
            for _ in range(3):
                run = requests.post(
                    stack.url(f"/routines/{routine['id']}/run"), json={}, headers=stack.board, timeout=30
                )
                assert run.status_code == 202, run.text
                made.append(run.json()["id"])
        finally:
            os.kill(other, signal.SIGCONT)

    assert sorted(run["id"] for run in stack.runs(routine["id"])) == sorted(made)


def test_concurrent_requests_to_two_workers_are_all_answered(stack: Stack) -> None:
    routine = stack.routine(concurrencyPolicy="always_enqueue")

    def fire(_: int) -> requests.Response:
        return requests.post(stack.url(f"/routines/{routine['id']}/run"), json={}, headers=stack.board, timeout=60)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(fire, range(48)))

    assert [answer.status_code for answer in answers] == [202] * 48
    made = {answer.json()["id"] for answer in answers}
    assert len(made) == 48
    assert {run["id"] for run in stack.runs(routine["id"])} == made


def test_the_parents_tick_fires_a_due_routine_exactly_once(stack: Stack) -> None:
    routine = stack.routine()
    past = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    trigger = requests.post(
        stack.url(f"/routines/{routine['id']}/triggers"),
        json={"kind": "schedule", "cronExpression": f"{past.minute} {past.hour} * * *", "timezone": "UTC"},
        headers=stack.board,
        timeout=30,
    ).json()["trigger"]
    slot = to_iso(past)  # its slot two minutes ago, the only one between then and now: due, and late
    make_due(stack.data_dir, trigger["id"], slot)

    deadline = time.monotonic() + 60
    while not stack.runs(routine["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # three more ticks: none may fire it again

    assert [(run["source"], run["scheduledFor"]) for run in stack.runs(routine["id"])] == [("schedule", slot)]
    ticks = [json.loads(line.split(" ", 1)[1]) for line in stack.out.read_text().splitlines() if line[:5] == "tick:"]
    assert [tick["runs"] for tick in ticks] == [{"issue_created": 1}]


def make_due(data_dir: Path, trigger_id: str, slot: str) -> None:
    """Moves a schedule trigger's next run to `slot`, in the stack's own database (a process of its own, as
    `routines tick --data-dir` attaches)."""
    script = (
        "import sys; from pathlib import Path; from chalicelib import runtime; "
        "from routines.local.stack import attach; runtime.configure(attach(Path(sys.argv[1])).settings()); "
        "from chalicelib.store.tables import TriggerItem; "
        "TriggerItem(sys.argv[2]).update([TriggerItem.nextRunAt.set(sys.argv[3])])"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROUTINES_")}
    subprocess.run([ROUTINES[0], "-c", script, str(data_dir), trigger_id, slot], env=env, check=True, timeout=60)
    assert from_iso(slot) < datetime.now(UTC)


def test_sigterm_stops_every_worker_then_dynamodb_local(own_stack: Stack) -> None:
    stack = own_stack
    children = stack.children()
    assert len(children) == 3

    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=30) == 0

    assert [pid for pid in children if _alive(pid)] == []
    assert "Stopping: API, tick, wakes and DynamoDB Local." in stack.out.read_text()


def test_a_worker_that_dies_stops_the_stack_and_says_which(own_stack: Stack) -> None:
    stack = own_stack
    children = stack.children()
    victim = stack.workers()[0]

    os.kill(victim, signal.SIGKILL)

    assert stack.process.wait(timeout=30) == 1
    assert [pid for pid in children if _alive(pid)] == []
    assert f"API worker {victim} killed by signal 9: stopping the stack." in stack.err.read_text()
