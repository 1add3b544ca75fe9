"""Bench data: a company with an agent and keys, and routines and triggers written in bulk."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import runtime
from chalicelib.domain.models import OPERATOR, ConcurrencyPolicy, Principal, RoutineStatus
from chalicelib.domain.timefmt import to_iso
from chalicelib.services import directory
from chalicelib.store.routines import due_shard
from chalicelib.store.tables import RoutineItem, TriggerItem

CREATED = "2000-01-01T00:00:00.000Z"
YEARLY = "0 0 1 1 *"


@dataclass(frozen=True)
class Tenant:
    """A company with one agent and a board key for it."""

    company_id: str
    agent_id: str
    board_key: str

    @property
    def agent(self) -> Principal:
        return Principal.for_agent(self.agent_id, self.company_id)


def make_tenant(name: str) -> Tenant:
    now = runtime.now()
    company = directory.create_company(OPERATOR, name, None, now, runtime.new_id)
    agent = directory.create_agent(company, "Bench agent", None, now, runtime.new_id)
    board = directory.create_board_key(frozenset({company.id}), "bench", now)
    return Tenant(company.id, agent.id, board)


@dataclass(frozen=True)
class Population:
    """Active routines, each with one schedule trigger due at `due_at`."""

    routines: list[RoutineItem]
    triggers: list[TriggerItem]

    @property
    def trigger_ids(self) -> list[str]:
        return [trigger.id for trigger in self.triggers]


def population(tenant: Tenant, size: int, due_at: str, cron: str = YEARLY) -> Population:
    routines = [routine_item(tenant) for _ in range(size)]
    triggers = [trigger_item(routine.id, tenant.company_id, due_at, cron) for routine in routines]
    return Population(routines, triggers)


def routine_item(tenant: Tenant) -> RoutineItem:
    return RoutineItem(
        runtime.new_id(),
        companyId=tenant.company_id,
        title="Bench routine",
        assigneeAgentId=tenant.agent_id,
        priority="medium",
        status=str(RoutineStatus.active),
        concurrencyPolicy=str(ConcurrencyPolicy.coalesce_if_active),
        catchUpPolicy="skip_missed",
        version=1,
        createdAt=CREATED,
        updatedAt=CREATED,
    )


def trigger_item(routine_id: str, company_id: str, next_run_at: str, cron: str = YEARLY) -> TriggerItem:
    """An enabled schedule trigger of an active routine: in the sparse `due` index at `next_run_at`."""
    trigger_id = runtime.new_id()
    return TriggerItem(
        trigger_id,
        routineId=routine_id,
        companyId=company_id,
        kind="schedule",
        enabled=True,
        cronExpression=cron,
        timezone="UTC",
        nextRunAt=next_run_at,
        dueShard=due_shard(trigger_id),
        createdAt=CREATED,
        updatedAt=CREATED,
    )


def future_triggers(count: int, company_id: str, rng: random.Random) -> list[TriggerItem]:
    """Triggers that are not due: `nextRunAt` spread over a year far ahead, as stored work looks."""
    start = datetime(2095, 1, 1, tzinfo=UTC)
    return [
        trigger_item(runtime.new_id(), company_id, to_iso(start + timedelta(minutes=rng.randrange(525_600))))
        for _ in range(count)
    ]
