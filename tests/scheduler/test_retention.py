"""Run retention: with `ROUTINES_RUN_RETENTION_DAYS` set, a final run and its claims carry the TTL attribute
`expiresAt`; a run whose issue is open never does, closing the issue starts the age and reopening stops it."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import Routine, Run, RunStatus
from chalicelib.services import issues, runs
from chalicelib.services.commands import RunRoutine, UpdateIssue
from chalicelib.services.runs import idempotency_claim
from chalicelib.settings import load_settings
from chalicelib.store.tables import ClaimItem, RunItem, read
from tests.scheduler.conftest import BOARD, Schedules, utc

DAY = 86400


@pytest.fixture
def retained() -> Iterator[int]:
    """Runs retained for 30 days while the test runs; afterwards the settings the session had."""
    before = runtime.settings()
    runtime.configure(replace(before, run_retention_days=30))
    yield 30 * DAY
    runtime.configure(before)


def _fire(routine: Routine, at: datetime, key: str | None = None) -> Run:
    return runs.run_routine(BOARD, routine, RunRoutine(idempotency_key=key), at, runtime.new_id)


def _expires_at(run: Run) -> int | None:
    item = read(RunItem, run.routine_id, run.id)
    assert item is not None
    return item.expiresAt


def _close(issue_id: str, status: str, at: datetime) -> None:
    issues.update_issue(BOARD, issue_id, UpdateIssue(status=status), None, at, runtime.new_id)


def test_a_run_whose_issue_is_open_never_expires_and_closing_the_issue_starts_its_age(
    schedules: Schedules, retained: int
) -> None:
    made_at = utc(2028, 3, 1)
    opened = _fire(schedules.routine(made_at), made_at)
    assert opened.status == RunStatus.issue_created and opened.linked_issue_id
    assert _expires_at(opened) is None

    closed_at = made_at + timedelta(days=2)
    _close(opened.linked_issue_id, "done", closed_at)
    assert _expires_at(opened) == int(closed_at.timestamp()) + retained

    _close(opened.linked_issue_id, "todo", closed_at + timedelta(hours=1))
    assert _expires_at(opened) is None

    cancelled_at = closed_at + timedelta(days=1)
    _close(opened.linked_issue_id, "cancelled", cancelled_at)
    assert _expires_at(opened) == int(cancelled_at.timestamp()) + retained


def test_a_run_final_when_written_expires_with_its_claim(schedules: Schedules, retained: int) -> None:
    made_at = utc(2028, 3, 2)
    routine = schedules.routine(made_at)
    _fire(routine, made_at)
    at = made_at + timedelta(minutes=5)

    coalesced = _fire(runs.reload_routine(routine.id), at, key="once")

    assert coalesced.status == RunStatus.coalesced
    assert _expires_at(coalesced) == int(at.timestamp()) + retained
    claim = read(ClaimItem, idempotency_claim(routine.id, coalesced.source, None, "once").key)
    assert claim is not None and claim.expiresAt == int(at.timestamp()) + retained


def test_runs_and_idempotency_claims_are_kept_forever_by_default(schedules: Schedules) -> None:
    made_at = utc(2028, 3, 3)
    opened = _fire(schedules.routine(made_at), made_at, key="kept")
    assert opened.linked_issue_id

    _close(opened.linked_issue_id, "done", made_at + timedelta(days=1))

    assert _expires_at(opened) is None
    claim = read(ClaimItem, idempotency_claim(opened.routine_id, opened.source, None, "kept").key)
    assert claim is not None and claim.expiresAt is None


@pytest.mark.parametrize(("given", "days"), [("", None), ("0", None), ("30", 30), (" 7 ", 7)])
def test_run_retention_is_off_unless_a_number_of_days_is_given(given: str, days: int | None) -> None:
    assert load_settings({"ROUTINES_RUN_RETENTION_DAYS": given}).run_retention_days == days
    assert load_settings({}).run_retention_days is None


def test_a_negative_run_retention_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="ROUTINES_RUN_RETENTION_DAYS"):
        load_settings({"ROUTINES_RUN_RETENTION_DAYS": "-1"})


def test_the_local_runs_table_expires_runs_through_ttl_on_expires_at() -> None:
    client = RunItem._get_connection().connection.client
    described = client.describe_time_to_live(TableName=RunItem.Meta.table_name)["TimeToLiveDescription"]
    assert (described["AttributeName"], described["TimeToLiveStatus"]) == ("expiresAt", "ENABLED")
