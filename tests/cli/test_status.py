"""`routines status` and `routines runs` on a seeded store: in this process, and against a `routines dev` stack."""

import json
import subprocess
from collections import Counter
from typing import Any

import pytest
import requests

from chalicelib import runtime
from chalicelib.domain.errors import Invalid
from chalicelib.domain.models import OPERATOR
from chalicelib.services.runs import Firing, record_failure
from chalicelib.services.status import company_status
from chalicelib.store import routines
from chalicelib.store.tables import RoutineItem
from routines.cli import main
from routines.metering import counting_requests
from routines.overview import follow_runs, status_rows
from tests.scheduler.test_cli import ROUTINES, dev_stack  # noqa: F401  (a fixture)
from tests.support import World, json_of


def status_of(company_id: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", company_id, "--json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def fail_delivery(trigger_id: str) -> None:
    """Seeds a webhook firing that could not dispatch, as a `failed` run of its trigger."""
    trigger = routines.get_trigger(trigger_id)
    assert trigger is not None
    routine = routines.get_routine(trigger.routine_id)
    assert routine is not None
    firing = Firing(source="webhook", trigger=trigger)  # type: ignore[arg-type]
    record_failure(routine, firing, Invalid("Default agent required"), runtime.now(), runtime.new_id)


def test_status_shows_next_fires_in_zone_and_utc_the_last_run_and_the_open_issue(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    scheduled = world.routine(title="Morning report")
    trigger = world.trigger(scheduled["id"], kind="schedule", cronExpression="0 9 * * *", timezone="Asia/Tokyo")
    run = json_of(world.board.post(f"/routines/{scheduled['id']}/run", {}), 202)
    quiet = world.routine(title="Never ran", status="paused")

    rows = {row["id"]: row for row in status_of(world.company_id, capsys)}

    assert set(rows) == {scheduled["id"], quiet["id"]}
    (schedule,) = rows[scheduled["id"]]["triggers"]
    next_utc = trigger["trigger"]["nextRunAt"]
    assert (schedule["nextRunAt"], schedule["timezone"]) == (next_utc, "Asia/Tokyo")
    assert schedule["nextRunLocal"].endswith("T09:00:00+09:00")
    last = rows[scheduled["id"]]["lastRun"]
    assert (last["id"], last["status"], last["source"]) == (run["id"], "issue_created", "manual")
    assert 0 <= last["ageSeconds"] < 600
    issue = json_of(world.board.get(f"/issues/{run['linkedIssueId']}"))
    expected_issue = {"id": issue["id"], "identifier": issue["identifier"], "status": "todo"}
    assert rows[scheduled["id"]]["openIssue"] == expected_issue
    assert (rows[quiet["id"]]["status"], rows[quiet["id"]]["lastRun"], rows[quiet["id"]]["openIssue"]) == (
        "paused",
        None,
        None,
    )


def test_status_names_webhook_triggers_whose_recent_deliveries_failed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    routine = world.routine(title="Deploys")
    failing = world.trigger(routine["id"], kind="webhook", label="deploy")["trigger"]
    healthy = world.trigger(routine["id"], kind="webhook", label="release")["trigger"]
    fail_delivery(failing["id"])

    (row,) = status_of(world.company_id, capsys)
    assert row["failingWebhookTriggerIds"] == [failing["id"]]
    assert row["lastRun"]["status"] == "failed"

    assert main(["status", world.company_id]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ROUTINE", "STATUS", "LAST", "RUN", "OPEN", "ISSUE"]
    assert table[1].split()[:3] == ["Deploys", "active", "failed"]
    assert "  webhook deploy: recent deliveries failed" in table
    assert "  webhook release" in table and healthy["id"] not in row["failingWebhookTriggerIds"]


def test_status_of_an_unknown_company_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "0190d6a1-0000-7000-8000-000000000000"]) == 2
    assert capsys.readouterr().err.strip() == "error: Company not found"


def test_runs_prints_the_history_oldest_first_within_the_limit(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    made = [json_of(world.board.post(f"/routines/{routine['id']}/run", {}), 202)["id"] for _ in range(3)]
    capsys.readouterr()

    assert main(["runs", routine["id"], "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines] == made[1:]
    assert lines[0].split()[1:3] == ["issue_created", "manual"]


def test_follow_prints_each_new_run_once_in_the_order_they_happened(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    routine = world.routine()
    first = json_of(world.board.post(f"/routines/{routine['id']}/run", {}), 202)["id"]
    fired: list[str] = []

    def fire_between_polls() -> None:  # two runs before the first poll, none before the second
        while len(fired) < 2:
            fired.append(json_of(world.board.post(f"/routines/{routine['id']}/run", {}), 202)["id"])

    capsys.readouterr()
    follow_runs(routine["id"], limit=5, polls=2, wait=fire_between_polls)

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines] == [first, *fired]
    assert [line.split()[1] for line in lines] == ["issue_created", "coalesced", "coalesced"]


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_runs_takes_only_a_positive_limit(capsys: pytest.CaptureFixture[str], limit: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runs", "0190d6a1-0000-7000-8000-000000000000", "--limit", limit])
    assert exited.value.code == 2
    assert "not a positive whole number" in capsys.readouterr().err


def test_status_and_follow_work_against_a_running_dev_stack(dev_stack: dict[str, Any]) -> None:  # noqa: F811
    board = {"Authorization": f"Bearer {dev_stack['boardApiKey']}"}
    base = dev_stack["baseUrl"]
    body = {"title": "Hourly", "assigneeAgentId": dev_stack["agents"][0]["id"]}
    routine = requests.post(f"{base}/companies/{dev_stack['companyId']}/routines", json=body, headers=board, timeout=30)
    run = requests.post(f"{base}/routines/{routine.json()['id']}/run", json={}, headers=board, timeout=30).json()

    def routines_cli(*argv: str) -> str:
        done = subprocess.run(
            [*ROUTINES, *argv, "--data-dir", dev_stack["dataDir"]],
            env=dev_stack["env"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    (row,) = json.loads(routines_cli("status", "--json"))  # the demo company of dev.json by default
    assert (row["title"], row["lastRun"]["id"]) == ("Hourly", run["id"])
    followed = routines_cli("runs", routine.json()["id"], "--follow", "--interval", "0", "--polls", "1")
    assert [line.split()[3] for line in followed.splitlines()] == [run["id"]]


def seed_routines(world: World, count: int) -> None:
    """`count` routines of three kinds: fired by API (an issue run), with a failed webhook delivery (a final run
    with no issue) after a change of title, and never fired."""
    for n in range(count):
        routine_id = world.routine(title=f"Routine {n}")["id"]
        if n % 3 == 0:
            world.trigger(routine_id, kind="api")
            json_of(world.board.post(f"/routines/{routine_id}/run", {}), 202)
        elif n % 3 == 1:
            fail_delivery(world.trigger(routine_id, kind="webhook")["trigger"]["id"])
            json_of(world.board.patch(f"/routines/{routine_id}", {"title": f"Renamed {n}"}))


def status_cost(world: World) -> tuple[Counter[str], list[dict[str, Any]]]:
    """The DynamoDB requests `company_status` sends, and the `routines status --json` rows of its answer."""
    with counting_requests() as sent:
        found = company_status(OPERATOR, world.company_id)
    return sent, status_rows(found, runtime.now())


def test_status_costs_the_same_requests_for_5_or_15_routines(world: World, other_world: World) -> None:
    seed_routines(world, 5)
    seed_routines(other_world, 15)

    five, rows_of_five = status_cost(world)
    fifteen, rows_of_fifteen = status_cost(other_world)

    assert five == fifteen
    assert fifteen["Query"] == 1  # the company's routines; no query per routine
    for rows in (rows_of_five, rows_of_fifteen):
        by_title = {row["title"]: row for row in rows}
        assert by_title["Routine 0"]["lastRun"]["status"] == "issue_created"
        assert by_title["Renamed 1"]["lastRun"]["status"] == "failed"  # kept through the change of title
        assert by_title["Renamed 1"]["failingWebhookTriggerIds"] == [t["id"] for t in by_title["Renamed 1"]["triggers"]]
        assert by_title["Routine 2"]["lastRun"] is None and by_title["Routine 2"]["triggers"] == []


def test_status_of_a_routine_from_before_last_run_ids_queries_its_runs_and_triggers(world: World) -> None:
    routine_id = world.routine(title="Old")["id"]
    trigger = world.trigger(routine_id, kind="api")["trigger"]
    run = json_of(world.board.post(f"/routines/{routine_id}/run", {}), 202)
    RoutineItem(routine_id).update(
        [
            RoutineItem.lastRunId.remove(),
            RoutineItem.runsTracked.remove(),
            RoutineItem.latestRevisionNumber.remove(),
            RoutineItem.triggerIds.remove(),
        ]
    )

    sent, (row,) = status_cost(world)

    assert sent["Query"] == 3  # the routines, then this one's triggers and its runs
    assert row["lastRun"]["id"] == run["id"]
    assert [t["id"] for t in row["triggers"]] == [trigger["id"]]


def test_status_of_a_routine_from_before_trigger_ids_finds_its_triggers_through_its_latest_revision(
    world: World,
) -> None:
    routine_id = world.routine(title="Revised before trigger ids")["id"]
    trigger = world.trigger(routine_id, kind="api")["trigger"]
    RoutineItem(routine_id).update([RoutineItem.triggerIds.remove()])

    sent, (row,) = status_cost(world)

    assert sent["Query"] == 1  # the routines only: the revision and the trigger are batch reads
    assert [t["id"] for t in row["triggers"]] == [trigger["id"]]


def stored_trigger_ids(routine_id: str) -> tuple[str, ...] | None:
    routine = routines.get_routine(routine_id)
    return routine.trigger_ids if routine else None


def test_each_trigger_change_records_the_routine_s_trigger_ids(world: World) -> None:
    routine_id = world.routine(title="Counted")["id"]
    assert stored_trigger_ids(routine_id) == ()
    first = world.trigger(routine_id, kind="api")["trigger"]
    second = world.trigger(routine_id, kind="api")["trigger"]
    assert stored_trigger_ids(routine_id) == (first["id"], second["id"])
    json_of(world.board.patch(f"/routines/{routine_id}", {"title": "Renamed"}))
    assert stored_trigger_ids(routine_id) == (first["id"], second["id"])
    assert world.board.delete(f"/routine-triggers/{first['id']}").status_code == 204
    assert stored_trigger_ids(routine_id) == (second["id"],)
