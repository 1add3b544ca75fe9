"""Routines and schedule triggers built straight through the services, at a chosen `now`.

Every test shares one DynamoDB Local, so `tick()` also sees other tests' due triggers: tests assert only on
their own routines, and each trigger made here leaves the `due` index when its test ends, so a later tick at a
later simulated time never fires it again.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.models import Principal, Routine, RoutineStatus, Run, Trigger
from chalicelib.domain.timefmt import frozen_at
from chalicelib.services import routines as routine_service
from chalicelib.services import triggers as trigger_service
from chalicelib.services.commands import CreateRoutine, CreateScheduleTrigger
from chalicelib.services.scheduler import Outcome, default_pool, dispatch_all
from chalicelib.store import routines, runs
from tests.moments import utc
from tests.support import World

__all__ = ["BOARD", "Schedules", "dispatch_one", "iso", "utc"]

BOARD = Principal.for_board(None)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def dispatch_one(trigger_id: str, now: datetime) -> Outcome:
    """Dispatches one due trigger, as a queued batch of one is."""
    with default_pool() as pool:
        [outcome] = dispatch_all([trigger_id], frozen_at(now), runtime.new_id, pool)
    return outcome


@dataclass
class Schedules:
    """Makes routines with one schedule trigger each in a test's company, and reads back what fired."""

    world: World
    made: list[str] = field(default_factory=list)

    def routine(self, now: datetime, **fields: Any) -> Routine:
        command = CreateRoutine(**{"title": "Scheduled", "assignee_agent_id": self.world.alpha_id, **fields})
        return routine_service.create_routine(BOARD, self.world.company_id, command, now, runtime.new_id)

    def trigger(self, routine: Routine, cron: str, now: datetime, tz: str = "UTC", **fields: Any) -> Trigger:
        """A schedule trigger created at `now`: its nextRunAt is the first slot after `now`."""
        command = CreateScheduleTrigger(kind="schedule", cron_expression=cron, timezone=tz, **fields)
        trigger = trigger_service.create_trigger(BOARD, routine, command, "http://test", now, runtime.new_id).trigger
        self.made.append(trigger.id)
        return trigger

    def scheduled(self, cron: str, now: datetime, tz: str = "UTC", **fields: Any) -> tuple[Routine, Trigger]:
        routine = self.routine(now, **fields)
        return routine, self.trigger(routine, cron, now, tz)

    def many(self, count: int, cron: str, now: datetime, **fields: Any) -> list[tuple[Routine, Trigger]]:
        """`count` routines with one schedule trigger each, made in parallel."""
        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(lambda _: self.scheduled(cron, now, **fields), range(count)))

    def backdate(self, trigger: Trigger, next_run_at: datetime) -> Trigger:
        """What a trigger looks like after an outage: its stored nextRunAt is an old slot."""
        spec = trigger.schedule
        assert spec is not None
        moved = replace(trigger, schedule=replace(spec, next_run_at=iso(next_run_at)))
        routines.save_trigger(moved, RoutineStatus.active)
        return moved

    def runs(self, routine: Routine) -> list[Run]:
        """The routine's runs, oldest first."""
        return list(reversed(runs.list_runs(routine.id, 1000)))

    def stored(self, trigger: Trigger) -> Trigger:
        found = routines.get_trigger(trigger.id)
        assert found is not None
        return found

    def next_run_at(self, trigger: Trigger) -> str | None:
        """The trigger's stored nextRunAt."""
        spec = self.stored(trigger).schedule
        assert spec is not None
        return spec.next_run_at

    def forget(self) -> None:
        for trigger_id in self.made:
            trigger = routines.get_trigger(trigger_id)
            if trigger:
                routines.set_due(trigger, RoutineStatus.archived)


@pytest.fixture
def schedules(world: World) -> Iterator[Schedules]:
    made = Schedules(world)
    yield made
    made.forget()
