"""Project pause through the real tick: each slot while paused is one `skipped`/`paused` run, no issue, the
trigger advancing; after resume the next slot fires."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib.domain.models import RunStatus
from chalicelib.services import directory
from chalicelib.services.commands import PauseProject
from tests.scheduler.conftest import BOARD, Schedules, dispatch_one, iso, utc
from tests.support import World

HOURLY = "0 * * * *"


@pytest.fixture
def paused(world: World) -> Iterator[str]:
    """The world's project, paused for the test; resumed after it, so other tests see it running."""
    directory.pause_project(BOARD, world.project_id, PauseProject(reason="maintenance"), utc(2027, 6, 1))
    yield world.project_id
    directory.resume_project(BOARD, world.project_id)


def test_a_paused_projects_slots_are_skipped_runs_one_per_slot_and_the_next_after_resume_fires(
    schedules: Schedules, paused: str
) -> None:
    made_at = utc(2027, 6, 1)
    routine, trigger = schedules.scheduled(HOURLY, made_at, project_id=paused)
    slots = [made_at + timedelta(hours=n) for n in (1, 2, 3)]

    for slot in slots:
        dispatch_one(trigger.id, slot + timedelta(seconds=20))
        dispatch_one(trigger.id, slot + timedelta(seconds=30))  # an overlapping tick records nothing more
    directory.resume_project(BOARD, paused)
    dispatch_one(trigger.id, made_at + timedelta(hours=4, seconds=20))

    runs = schedules.runs(routine)
    assert [(run.scheduled_for, run.status, run.failure_reason, run.linked_issue_id) for run in runs] == [
        *[(iso(slot), RunStatus.skipped, "paused", None) for slot in slots],
        (iso(made_at + timedelta(hours=4)), RunStatus.issue_created, None, runs[-1].linked_issue_id),
    ]
    assert runs[-1].linked_issue_id is not None
    assert schedules.next_run_at(trigger) == iso(made_at + timedelta(hours=5))


def test_a_paused_project_owes_no_catch_up_after_an_outage(schedules: Schedules, paused: str) -> None:
    made_at = utc(2027, 6, 2)
    routine, trigger = schedules.scheduled(
        HOURLY, made_at, project_id=paused, catch_up_policy="enqueue_missed_with_cap"
    )

    dispatch_one(trigger.id, made_at + timedelta(hours=5, seconds=20))

    assert [(run.status, run.failure_reason) for run in schedules.runs(routine)] == [(RunStatus.skipped, "paused")]
    assert schedules.stored(trigger).last_result == "Skipped because the project is paused"
    assert schedules.next_run_at(trigger) == iso(made_at + timedelta(hours=6))


def test_a_routine_outside_the_paused_project_fires_as_usual(schedules: Schedules, paused: str) -> None:
    made_at = utc(2027, 6, 3)
    routine, trigger = schedules.scheduled(HOURLY, made_at)

    dispatch_one(trigger.id, made_at + timedelta(hours=1, seconds=20))

    assert [run.status for run in schedules.runs(routine)] == [RunStatus.issue_created]
