"""The things the service keeps, as plain values. Timestamps are canonical ISO strings (see `timefmt`)."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RoutineStatus(StrEnum):
    active = "active"
    paused = "paused"
    archived = "archived"


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class ConcurrencyPolicy(StrEnum):
    coalesce_if_active = "coalesce_if_active"
    always_enqueue = "always_enqueue"
    skip_if_active = "skip_if_active"


class TriggerKind(StrEnum):
    schedule = "schedule"
    webhook = "webhook"
    api = "api"


class RunSource(StrEnum):
    schedule = "schedule"
    manual = "manual"
    api = "api"
    webhook = "webhook"


class RunStatus(StrEnum):
    received = "received"
    coalesced = "coalesced"
    skipped = "skipped"
    issue_created = "issue_created"
    completed = "completed"
    failed = "failed"


class IssueStatus(StrEnum):
    backlog = "backlog"
    todo = "todo"
    in_progress = "in_progress"
    in_review = "in_review"
    blocked = "blocked"
    done = "done"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (IssueStatus.done, IssueStatus.cancelled)


class AgentStatus(StrEnum):
    active = "active"
    paused = "paused"
    terminated = "terminated"
    pending_approval = "pending_approval"


ASSIGNABLE_AGENT_STATUSES = frozenset({AgentStatus.active, AgentStatus.paused})
ROUTINE_EXECUTION = "routine_execution"


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    issue_prefix: str
    created_at: str


@dataclass(frozen=True)
class Agent:
    id: str
    company_id: str
    name: str
    status: AgentStatus
    role: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Project:
    id: str
    company_id: str
    name: str
    description: str | None
    paused_at: str | None
    created_at: str


@dataclass(frozen=True)
class Goal:
    id: str
    company_id: str
    title: str
    description: str | None
    created_at: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent of one company, or a board key for some companies (None: all)."""

    key_hash: str
    agent_id: str | None = None
    company_id: str | None = None
    company_ids: frozenset[str] | None = None

    @property
    def is_agent(self) -> bool:
        return self.agent_id is not None

    def can_access(self, company_id: str) -> bool:
        if self.is_agent:
            return self.company_id == company_id
        return self.company_ids is None or company_id in self.company_ids


@dataclass(frozen=True)
class OpenIssue:
    """An open execution issue of a routine and the run that created it."""

    issue_id: str
    run_id: str

    def encode(self) -> str:
        return f"{self.issue_id}:{self.run_id}"

    @classmethod
    def decode(cls, text: str) -> "OpenIssue":
        issue_id, run_id = text.split(":")
        return cls(issue_id, run_id)


@dataclass(frozen=True)
class Routine:
    id: str
    company_id: str
    title: str
    description: str | None
    assignee_agent_id: str | None
    project_id: str | None
    goal_id: str | None
    parent_issue_id: str | None
    priority: Priority
    status: RoutineStatus
    concurrency_policy: ConcurrencyPolicy
    catch_up_policy: str
    created_at: str
    updated_at: str
    version: int = 1
    open_issues: frozenset[OpenIssue] = frozenset()
    last_triggered_at: str | None = None
    last_enqueued_at: str | None = None
    created_by_agent_id: str | None = None
    updated_by_agent_id: str | None = None

    @property
    def newest_open_issue(self) -> OpenIssue | None:
        """Ids are time-ordered, so the greatest issue id is the newest issue."""
        return max(self.open_issues, key=lambda o: o.issue_id, default=None)


@dataclass(frozen=True)
class Trigger:
    id: str
    routine_id: str
    company_id: str
    kind: TriggerKind
    label: str | None
    enabled: bool
    created_at: str
    updated_at: str
    cron_expression: str | None = None
    timezone: str | None = None
    next_run_at: str | None = None
    last_fired_at: str | None = None
    last_result: str | None = None
    public_id: str | None = None
    secret: str | None = None
    signing_mode: str | None = None
    replay_window_sec: int | None = None
    last_rotated_at: str | None = None


@dataclass(frozen=True)
class Run:
    id: str
    routine_id: str
    company_id: str
    source: RunSource
    status: RunStatus
    triggered_at: str
    created_at: str
    updated_at: str
    trigger_id: str | None = None
    scheduled_for: str | None = None
    idempotency_key: str | None = None
    trigger_payload: dict[str, Any] | None = None
    linked_issue_id: str | None = None
    coalesced_into_run_id: str | None = None
    failure_reason: str | None = None
    completed_at: str | None = None
    dropped_slots: dict[str, Any] | None = None


@dataclass(frozen=True)
class Issue:
    id: str
    company_id: str
    identifier: str
    title: str
    description: str | None
    status: IssueStatus
    priority: Priority
    assignee_agent_id: str | None
    project_id: str | None
    goal_id: str | None
    parent_id: str | None
    created_at: str
    updated_at: str
    origin_kind: str | None = None
    origin_id: str | None = None
    origin_run_id: str | None = None
    created_by_agent_id: str | None = None
