"""`routines cron` and `routines tick`: in this process, and `tick` against a `routines dev` stack it attaches to."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from routines.cli import main
from routines.local.dynamodb import free_port
from routines.local.stack import _check_port_free
from tests.scheduler.conftest import Schedules, iso, utc

ROUTINES = [sys.executable, "-m", "routines.cli"]


def test_cron_prints_the_expression_in_words_and_its_next_fire_times(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cron", "30 2 * * *", "--tz", "Europe/Amsterdam", "--next", "3", "--after", "2026-03-27T12:00:00Z"])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "30 2 * * * (Europe/Amsterdam): At 02:30 every day",
        "  2026-03-28T02:30:00+01:00  (2026-03-28T01:30Z)",
        "  2026-03-29T03:00:00+02:00  (2026-03-29T01:00Z)",
        "  2026-03-30T02:30:00+02:00  (2026-03-30T00:30Z)",
    ]


def test_cron_lists_five_fire_times_from_now_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "*/5 * * * MON-FRI"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "*/5 * * * MON-FRI (UTC): Every fifth minute of every hour on Monday through Friday"
    assert len(lines) == 6


def test_cron_says_when_an_expression_has_no_fire_time_soon(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "0 0 * 2 MON#5", "--after", "2026-01-01T00:00:00Z"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["  (no fire time in the next five years)"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cron", "0 0 30 2 *"], 'error: Cron expression never fires: "0 0 30 2 *"'),
        (["cron", "0 9 * * *", "--tz", "Mars/Olympus"], "error: Invalid timezone: Mars/Olympus"),
    ],
)
def test_cron_rejects_what_a_trigger_would_reject(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message


@pytest.mark.parametrize("argv", [["cron", "0 9 * * *", "--after", "tomorrow"], ["tick", "--now", "noon"]])
def test_a_time_that_is_not_iso_8601_is_a_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "not an ISO-8601 instant" in capsys.readouterr().err


def test_tick_at_the_same_now_twice_fires_once_and_prints_its_summary(
    schedules: Schedules, capsys: pytest.CaptureFixture[str]
) -> None:
    routine, trigger = schedules.scheduled("15 * * * *", utc(2026, 6, 1, 8))
    capsys.readouterr()

    assert main(["tick", "--now", "2026-06-01T08:15:30Z"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["tick", "--now", "2026-06-01T08:15:30Z"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert first["now"] == second["now"] == "2026-06-01T08:15:30.000Z"
    assert first["runs"].get("issue_created", 0) >= 1 and first["due"] >= 1
    assert second["runs"] == {} and second["due"] == 0
    assert [run.scheduled_for for run in schedules.runs(routine)] == [iso(utc(2026, 6, 1, 8, 15))]
    assert schedules.next_run_at(trigger) == iso(utc(2026, 6, 1, 9, 15))


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A `routines dev --no-tick` of its own (its own DynamoDB Local), always stopped."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROUTINES_")}
    stack = subprocess.Popen(
        [*ROUTINES, "dev", "--no-tick", "--port", str(port), "--data-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield {**_wait_for_dev_json(tmp_path, stack), "env": env, "dataDir": str(tmp_path)}
    finally:
        _stop(stack)


def _wait_for_dev_json(data_dir: Path, stack: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert stack.poll() is None, "routines dev exited"
        try:
            return dict(json.loads((data_dir / "dev.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or half written
            time.sleep(0.2)
    raise AssertionError("routines dev did not write dev.json in 90 s")


def _stop(stack: subprocess.Popen[bytes]) -> None:
    stack.send_signal(signal.SIGTERM)
    try:
        stack.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(stack.pid, signal.SIGKILL)
        stack.wait()


def test_tick_attaches_to_a_running_dev_stack_by_its_data_dir(dev_stack: dict[str, Any]) -> None:
    board = {"Authorization": f"Bearer {dev_stack['boardApiKey']}"}
    base = dev_stack["baseUrl"]
    body = {"title": "Hourly", "assigneeAgentId": dev_stack["agents"][0]["id"]}
    routine = requests.post(f"{base}/companies/{dev_stack['companyId']}/routines", json=body, headers=board, timeout=30)
    assert routine.status_code == 201, routine.text
    routine_id = routine.json()["id"]
    created = requests.post(
        f"{base}/routines/{routine_id}/triggers",
        json={"kind": "schedule", "cronExpression": "0 * * * *", "timezone": "UTC"},
        headers=board,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    slot = created.json()["trigger"]["nextRunAt"]
    now = slot.replace(":00.000Z", ":30.000Z")

    def tick() -> dict[str, Any]:
        done = subprocess.run(
            [*ROUTINES, "tick", "--now", now, "--data-dir", dev_stack["dataDir"]],
            env=dev_stack["env"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return dict(json.loads(done.stdout))

    first, second = tick(), tick()

    assert (first["now"], first["due"], first["runs"], first["errors"]) == (now, 1, {"issue_created": 1}, 0)
    assert (second["due"], second["runs"]) == (0, {})
    runs = requests.get(f"{base}/routines/{routine_id}/runs", headers=board, timeout=30).json()
    assert [(run["status"], run["source"], run["scheduledFor"]) for run in runs] == [
        ("issue_created", "schedule", slot)
    ]


def test_dev_json_holding_the_keys_is_readable_by_its_owner_only(dev_stack: dict[str, Any]) -> None:
    for name in ("dev.json", "demo.json"):
        assert stat.S_IMODE((Path(dev_stack["dataDir"]) / name).stat().st_mode) == 0o600, name


def test_a_port_left_in_time_wait_by_a_crashed_server_counts_as_free() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first, as a killed one does: its side of the port goes to TIME-WAIT
        client.close()
    _check_port_free("127.0.0.1", port)


def test_a_port_a_server_listens_on_is_refused() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(SystemExit, match="is in use"):
            _check_port_free("127.0.0.1", listener.getsockname()[1])
