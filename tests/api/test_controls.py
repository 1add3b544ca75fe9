"""Operator controls over HTTP: schedule previews of saved triggers and unsaved expressions, and backfills."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.timefmt import to_iso
from chalicelib.store import activity
from tests.support import World, json_of

AMSTERDAM = "Europe/Amsterdam"


def _schedule(world: World, routine_id: str, cron: str = "0 * * * *", tz: str = "UTC") -> dict[str, Any]:
    return dict(world.trigger(routine_id, kind="schedule", cronExpression=cron, timezone=tz)["trigger"])


# Schedule preview


def test_a_trigger_preview_starts_at_its_next_run_and_lists_count_times(world: World) -> None:
    trigger = _schedule(world, world.routine()["id"], "*/15 * * * *")

    times = json_of(world.alpha.get(f"/routine-triggers/{trigger['id']}/preview?count=3"))["times"]

    assert len(times) == 3
    assert times[0]["utc"] == trigger["nextRunAt"]
    first = datetime.fromisoformat(trigger["nextRunAt"])
    assert [time["utc"] for time in times] == [to_iso(first + timedelta(minutes=15 * n)) for n in range(3)]


def test_a_trigger_preview_lists_ten_times_by_default(world: World) -> None:
    trigger = _schedule(world, world.routine()["id"])

    assert len(json_of(world.board.get(f"/routine-triggers/{trigger['id']}/preview"))["times"]) == 10


@pytest.mark.parametrize("count", ["0", "101", "ten", "-1", "2.5"])
def test_a_preview_count_outside_1_to_100_is_a_400(world: World, count: str) -> None:
    trigger = _schedule(world, world.routine()["id"])

    response = world.board.get(f"/routine-triggers/{trigger['id']}/preview?count={count}")

    assert response.status_code == 400, response.text
    assert response.json() == {"error": "count must be a whole number from 1 to 100"}


def test_a_webhook_trigger_has_no_preview(world: World) -> None:
    trigger = world.trigger(world.routine()["id"], kind="webhook")["trigger"]

    response = world.board.get(f"/routine-triggers/{trigger['id']}/preview")

    assert response.status_code == 422, response.text
    assert response.json() == {"error": "Only schedule triggers have fire times"}


def test_another_companys_trigger_preview_is_a_403(world: World, other_world: World) -> None:
    trigger = _schedule(world, world.routine()["id"])

    assert other_world.board.get(f"/routine-triggers/{trigger['id']}/preview").status_code == 403


def _time(utc: str, local: str, moved_by_gap: bool = False, first_of_repeat: bool = False) -> dict[str, Any]:
    return {"utc": utc, "local": local, "movedByGap": moved_by_gap, "firstOfRepeat": first_of_repeat}


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param("2027-03-27T12:00:00Z", [
            _time("2027-03-28T01:00:00.000Z", "2027-03-28T03:00:00+02:00", moved_by_gap=True),
            _time("2027-03-29T00:30:00.000Z", "2027-03-29T02:30:00+02:00"),
        ], id="spring: 02:30 does not exist and fires at 03:00"),
        pytest.param("2027-10-30T12:00:00Z", [
            _time("2027-10-31T00:30:00.000Z", "2027-10-31T02:30:00+02:00", first_of_repeat=True),
            _time("2027-11-01T01:30:00.000Z", "2027-11-01T02:30:00+01:00"),
        ], id="autumn: 02:30 occurs twice and fires at the first"),
    ],
)  # fmt: skip
def test_an_unsaved_expression_previews_an_amsterdam_clock_change_with_its_dst_mark(
    world: World, after: str, expected: list[dict[str, Any]]
) -> None:
    body = {"cronExpression": "30 2 * * *", "timezone": AMSTERDAM, "count": 2, "after": after}

    assert json_of(world.alpha.post("/schedule-preview", body))["times"] == expected


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"cronExpression": "0 0 30 2 *"}, 'Cron expression never fires: "0 0 30 2 *"'),
        ({"cronExpression": "0 9 * *"}, 'Cron expression must have exactly 5 fields, got 4: "0 9 * *"'),
        ({"cronExpression": "0 9 * * *", "timezone": "Mars/Olympus"}, "Invalid timezone: Mars/Olympus"),
    ],
)
def test_an_unsaved_expression_that_a_trigger_would_refuse_is_a_422_saying_why(
    world: World, body: dict[str, Any], error: str
) -> None:
    response = world.alpha.post("/schedule-preview", body)

    assert response.status_code == 422, response.text
    assert response.json() == {"error": error}


@pytest.mark.parametrize("count", [0, 101, "5"])
def test_an_unsaved_expression_preview_count_outside_1_to_100_is_a_400(world: World, count: Any) -> None:
    response = world.alpha.post("/schedule-preview", {"cronExpression": "0 9 * * *", "count": count})

    assert response.status_code == 400, response.text


# Backfill


def _hours_ago(hours: int) -> str:
    return to_iso(datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours))


def _backfill(world: World, routine_id: str, trigger_id: str, start: str, end: str, client: Any = None) -> Any:
    body = {"triggerId": trigger_id, "from": start, "to": end}
    return (client or world.board).post(f"/routines/{routine_id}/backfill", body)


def test_a_backfill_fires_each_slot_of_the_window_once_and_a_second_fires_nothing(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    trigger = _schedule(world, routine["id"])
    start, end = _hours_ago(3), _hours_ago(1)

    first = json_of(_backfill(world, routine["id"], trigger["id"], start, end))
    second = json_of(_backfill(world, routine["id"], trigger["id"], start, end, world.alpha))

    assert [run["scheduledFor"] for run in first["runs"]] == [start, _hours_ago(2)]
    assert {(run["source"], run["status"], run["backfill"]) for run in first["runs"]} == {
        ("schedule", "issue_created", True)
    }
    assert first["alreadyFired"] == []
    assert second == {"runs": [], "alreadyFired": first["runs"]}


def test_a_backfill_follows_the_concurrency_policy(world: World) -> None:
    routine = world.routine(concurrencyPolicy="coalesce_if_active")
    trigger = _schedule(world, routine["id"])

    fired = json_of(_backfill(world, routine["id"], trigger["id"], _hours_ago(3), _hours_ago(1)))["runs"]

    assert [run["status"] for run in fired] == ["issue_created", "coalesced"]
    assert fired[1]["linkedIssueId"] == fired[0]["linkedIssueId"]


@pytest.mark.parametrize(
    ("window", "error"),
    [
        ((1, -1), "Backfill window must not end in the future"),
        ((1, 3), "Backfill window must start before it ends"),
        ((200, 0), "Backfill window holds 200 slots; at most 100 per request"),
    ],
)
def test_a_backfill_window_in_the_future_reversed_or_over_100_slots_is_a_400_that_fires_nothing(
    world: World, window: tuple[int, int], error: str
) -> None:
    routine = world.routine()
    trigger = _schedule(world, routine["id"])

    response = _backfill(world, routine["id"], trigger["id"], _hours_ago(window[0]), _hours_ago(window[1]))

    assert response.status_code == 400, response.text
    assert response.json() == {"error": error}
    assert json_of(world.board.get(f"/routines/{routine['id']}/runs")) == []


def test_only_the_board_and_the_routines_assignee_may_backfill(world: World) -> None:
    routine = world.routine()
    trigger = _schedule(world, routine["id"])

    response = _backfill(world, routine["id"], trigger["id"], _hours_ago(2), _hours_ago(1), world.bravo)

    assert response.status_code == 403, response.text
    assert json_of(world.board.get(f"/routines/{routine['id']}/runs")) == []


def test_an_archived_routine_cannot_backfill(world: World) -> None:
    routine = world.routine()
    trigger = _schedule(world, routine["id"])
    json_of(world.board.patch(f"/routines/{routine['id']}", {"status": "archived"}))

    response = _backfill(world, routine["id"], trigger["id"], _hours_ago(2), _hours_ago(1))

    assert response.status_code == 409, response.text
    assert response.json() == {"error": "Routine is archived"}


def test_a_backfill_names_a_schedule_trigger_of_its_routine(world: World) -> None:
    routine, other = world.routine(), world.routine()
    theirs = _schedule(world, other["id"])
    webhook = world.trigger(routine["id"], kind="webhook")["trigger"]

    foreign = _backfill(world, routine["id"], theirs["id"], _hours_ago(2), _hours_ago(1))
    not_scheduled = _backfill(world, routine["id"], webhook["id"], _hours_ago(2), _hours_ago(1))

    assert (foreign.status_code, foreign.json()) == (404, {"error": "Routine trigger not found"})
    assert (not_scheduled.status_code, not_scheduled.json()) == (
        422,
        {"error": "Only schedule triggers have fire times"},
    )


# Project pause


def _pause(world: World, client: Any = None, **body: Any) -> Any:
    return (client or world.board).post(f"/projects/{world.project_id}/pause", body)


def test_the_board_pauses_and_resumes_a_project(world: World) -> None:
    paused = json_of(_pause(world, reason="maintenance"))
    again = json_of(_pause(world))
    resumed = json_of(world.board.post(f"/projects/{world.project_id}/resume"))

    assert (paused["id"], paused["pauseReason"]) == (world.project_id, "maintenance")
    assert paused["pausedAt"] is not None
    assert (again["pausedAt"], again["pauseReason"]) == (paused["pausedAt"], "manual")
    assert (resumed["pausedAt"], resumed["pauseReason"]) == (None, None)
    assert json_of(world.board.get(f"/companies/{world.company_id}/projects"))[0] == resumed


def test_only_a_board_key_of_the_projects_company_pauses_it(world: World, other_world: World) -> None:
    agent = _pause(world, world.alpha)
    foreign = _pause(world, other_world.board)
    unknown = world.board.post("/projects/01890000-0000-7000-8000-000000000000/pause", {})

    assert (agent.status_code, agent.json()) == (403, {"error": "Board access required"})
    assert foreign.status_code == 403
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Project not found"})
    assert json_of(world.board.get(f"/companies/{world.company_id}/projects"))[0]["pausedAt"] is None


def test_a_paused_projects_issue_cannot_be_checked_out_but_a_manual_run_still_creates_one(world: World) -> None:
    routine = world.routine()
    json_of(_pause(world))

    run = json_of(world.alpha.post(f"/routines/{routine['id']}/run", {}), 202)
    body = {"agentId": world.alpha_id, "expectedStatuses": ["todo"]}
    refused = world.alpha.post(f"/issues/{run['linkedIssueId']}/checkout", body)
    json_of(world.board.post(f"/projects/{world.project_id}/resume"))
    taken = world.alpha.post(f"/issues/{run['linkedIssueId']}/checkout", body)

    assert run["status"] == "issue_created"
    assert (refused.status_code, refused.json()) == (409, {"error": "Project is paused"})
    assert json_of(taken)["status"] == "in_progress"


# Activity gate


def test_a_routine_takes_the_activity_gate_fields_over_http(world: World) -> None:
    routine = world.routine()
    body = {"activityGatePolicy": "require_external_activity", "activityGateScope": "project"}

    changed = json_of(world.board.patch(f"/routines/{routine['id']}", body))

    assert (changed["activityGatePolicy"], changed["activityGateScope"]) == ("require_external_activity", "project")
    assert "lastDispatchedAt" not in changed


def test_a_comment_over_http_is_activity_of_its_company_and_project_and_a_read_is_not(world: World) -> None:
    routine = world.routine()
    run = json_of(world.alpha.post(f"/routines/{routine['id']}/run", {}), 202)
    issue_id = run["linkedIssueId"]
    dispatched = activity.scope_activity(world.company_id, world.project_id)
    assert (dispatched.last_origin, dispatched.external_at) == (routine["id"], None)

    comment = json_of(world.bravo.post(f"/issues/{issue_id}/comments", {"body": "Seen"}), 201)
    json_of(world.bravo.get(f"/issues/{issue_id}"))
    json_of(world.bravo.get(f"/issues/{issue_id}/comments"))

    for scope in (None, world.project_id):
        found = activity.scope_activity(world.company_id, scope)
        assert (found.last_at, found.last_origin, found.external_at) == (
            comment["createdAt"],
            None,
            comment["createdAt"],
        )
