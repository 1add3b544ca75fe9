"""The things the service keeps, as plain values. Timestamps are canonical ISO strings (see `timefmt`).

Each field is written here once, with its type; the table models store it and the API's response models
are generated from these classes. `Id` and `Timestamp` mark the strings that are UUIDs and ISO instants.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.signing import SigningMode
from chalicelib.domain.variables import Variable

Id = Annotated[str, "id"]
Timestamp = Annotated[str, "timestamp"]
_URL_KEY_DELIMITERS = re.compile(r"[^a-z0-9]+")


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


class ActivityGatePolicy(StrEnum):
    always = "always"
    require_external_activity = "require_external_activity"


class ActivityGateScope(StrEnum):
    company = "company"
    project = "project"


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
    """A tenant: its agents, projects, goals, routines and issues; `issue_prefix` starts its issue identifiers."""

    id: Id
    name: str
    issue_prefix: str
    created_at: Timestamp


@dataclass(frozen=True)
class Agent:
    """An agent of a company: who a routine's execution issues are assigned to, and woken for."""

    id: Id
    company_id: Id
    name: str
    status: AgentStatus
    role: str | None
    created_at: Timestamp
    updated_at: Timestamp
    adapter_type: str | None = None
    adapter_config: dict[str, Any] | None = None

    @property
    def url_key(self) -> str:
        """Paperclip's key for the agent in URLs: its name lower-cased, each run of other characters one dash,
        no dash at either end; the id when nothing is left."""
        return _URL_KEY_DELIMITERS.sub("-", self.name.strip().lower()).strip("-") or self.id


@dataclass(frozen=True)
class Project:
    """A project of a company, which routines and issues may belong to."""

    id: Id
    company_id: Id
    name: str
    description: str | None
    paused_at: Timestamp | None
    created_at: Timestamp
    pause_reason: str | None = None


@dataclass(frozen=True)
class Goal:
    """A goal of a company, which routines may serve."""

    id: Id
    company_id: Id
    title: str
    description: str | None
    created_at: Timestamp


class PrincipalKind(StrEnum):
    agent = "agent"
    board = "board"
    anonymous = "anonymous"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent of one company, a board key for some companies (None: all), or nobody yet."""

    kind: PrincipalKind
    key_hash: str = ""
    agent_id: str | None = None
    company_id: str | None = None
    company_ids: frozenset[str] | None = None

    @classmethod
    def for_agent(cls, agent_id: str, company_id: str, key_hash: str = "") -> "Principal":
        return cls(PrincipalKind.agent, key_hash, agent_id=agent_id, company_id=company_id)

    @classmethod
    def for_board(cls, company_ids: frozenset[str] | None, key_hash: str = "") -> "Principal":
        return cls(PrincipalKind.board, key_hash, company_ids=company_ids)

    @property
    def is_agent(self) -> bool:
        return self.kind == PrincipalKind.agent

    @property
    def company_scope(self) -> frozenset[str] | None:
        """The companies this principal may see; None for all of them."""
        if self.kind == PrincipalKind.board:
            return self.company_ids
        return frozenset({self.company_id}) if self.kind == PrincipalKind.agent and self.company_id else frozenset()

    def can_access(self, company_id: str) -> bool:
        if self.kind == PrincipalKind.agent:
            return self.company_id == company_id
        if self.kind == PrincipalKind.board:
            return self.company_ids is None or company_id in self.company_ids
        return False


ANONYMOUS = Principal(PrincipalKind.anonymous)
"""The caller before authentication (and of the public webhook route): access to nothing."""
OPERATOR = Principal(PrincipalKind.board)
"""Whoever holds the AWS credentials (`routines admin`, the local stack's seed): every company."""


@dataclass(frozen=True)
class OpenIssue:
    """An open execution issue of a routine and the run that created it.

    `fingerprint` is the issue's `originFingerprint`: None for an issue with the routine's own content, else
    what its content hashes to (variables filled in, or an override). A firing coalesces only into its own.
    """

    issue_id: str
    run_id: str
    fingerprint: str | None = None

    def encode(self) -> str:
        parts = (self.issue_id, self.run_id, self.fingerprint) if self.fingerprint else (self.issue_id, self.run_id)
        return ":".join(parts)

    @classmethod
    def decode(cls, text: str) -> "OpenIssue":
        issue_id, run_id, *fingerprint = text.split(":")
        return cls(issue_id, run_id, fingerprint[0] if fingerprint else None)


@dataclass(frozen=True)
class Routine:
    """Recurring work for an agent: what its execution issues say, and how firings share them."""

    id: Id
    company_id: Id
    title: str
    description: str | None
    assignee_agent_id: Id | None
    project_id: Id | None
    goal_id: Id | None
    parent_issue_id: Id | None
    priority: Priority
    status: RoutineStatus
    concurrency_policy: ConcurrencyPolicy
    catch_up_policy: CatchUpPolicy
    created_at: Timestamp
    updated_at: Timestamp
    version: int = 1
    open_issues: frozenset[OpenIssue] = frozenset()
    last_triggered_at: Timestamp | None = None
    last_enqueued_at: Timestamp | None = None
    last_dispatched_at: Timestamp | None = None
    # The newest run written (last writer wins), and whether the routine has recorded it since its creation: a
    # routine with `runs_tracked` and no `last_run_id` has no runs.
    last_run_id: Id | None = None
    runs_tracked: bool = False
    created_by_agent_id: Id | None = None
    updated_by_agent_id: Id | None = None
    variables: tuple[Variable, ...] = ()
    env: dict[str, Any] | None = None
    folder_id: Id | None = None
    activity_gate_policy: ActivityGatePolicy = ActivityGatePolicy.always
    activity_gate_scope: ActivityGateScope = ActivityGateScope.company
    latest_revision_id: Id | None = None
    latest_revision_number: int | None = None
    # The triggers the latest revision names, kept beside its number so lists read triggers without the revision
    # (None: a routine whose latest revision was written before this was recorded).
    trigger_ids: tuple[Id, ...] | None = None

    @property
    def newest_open_issue(self) -> OpenIssue | None:
        """Ids are time-ordered, so the greatest issue id is the newest issue."""
        return max(self.open_issues, key=lambda o: o.issue_id, default=None)

    def open_issue_for(self, fingerprint: str | None) -> OpenIssue | None:
        """The newest open issue with this content fingerprint (None: the routine's own content)."""
        matching = (entry for entry in self.open_issues if entry.fingerprint == fingerprint)
        return max(matching, key=lambda o: o.issue_id, default=None)


@dataclass(frozen=True)
class ScheduleSpec:
    """What a schedule trigger fires on: a cron expression read in an IANA time zone."""

    cron_expression: str
    timezone: str
    next_run_at: Timestamp | None = None


@dataclass(frozen=True)
class WebhookSpec:
    """How a webhook trigger is reached and authenticated; the secret is shown only when made."""

    public_id: str
    secret: str
    signing_mode: SigningMode
    replay_window_sec: int
    last_rotated_at: Timestamp


@dataclass(frozen=True)
class Trigger:
    """A way to fire a routine; `schedule` is set exactly for schedule triggers, `webhook` for webhooks."""

    id: Id
    routine_id: Id
    company_id: Id
    kind: TriggerKind
    label: str | None
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp
    last_fired_at: Timestamp | None = None
    last_result: str | None = None
    schedule: ScheduleSpec | None = None
    webhook: WebhookSpec | None = None


@dataclass(frozen=True)
class Run:
    """One firing of a routine and what came of it: the execution issue it created or linked, or why not."""

    id: Id
    routine_id: Id
    company_id: Id
    source: RunSource
    status: RunStatus
    triggered_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    trigger_id: Id | None = None
    scheduled_for: Timestamp | None = None
    backfill: bool = False
    idempotency_key: str | None = None
    trigger_payload: dict[str, Any] | None = None
    linked_issue_id: Id | None = None
    coalesced_into_run_id: Id | None = None
    failure_reason: str | None = None
    completed_at: Timestamp | None = None
    dropped_slots: dict[str, Any] | None = None
    dispatch_fingerprint: str | None = None
    routine_revision_id: Id | None = None


@dataclass(frozen=True)
class Revision:
    """A routine's fields and triggers as one change left them; numbered from 1 per routine.

    `snapshot` is `{version, routine, triggers}` as Paperclip writes it (see `domain.revisions`).
    """

    id: Id
    company_id: Id
    routine_id: Id
    revision_number: int
    title: str
    description: str | None
    snapshot: dict[str, Any]
    change_summary: str
    created_at: Timestamp
    restored_from_revision_id: Id | None = None
    created_by_agent_id: Id | None = None


@dataclass(frozen=True)
class Issue:
    """A unit of work for an agent; an execution issue is the one a run created."""

    id: Id
    company_id: Id
    identifier: str
    title: str
    description: str | None
    status: IssueStatus
    priority: Priority
    assignee_agent_id: Id | None
    project_id: Id | None
    goal_id: Id | None
    parent_id: Id | None
    created_at: Timestamp
    updated_at: Timestamp
    origin_kind: str | None = None
    origin_id: Id | None = None
    origin_run_id: Id | None = None
    created_by_agent_id: Id | None = None
    origin_fingerprint: str | None = None
    checkout_run_id: Id | None = None
    execution_run_id: Id | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None


class AuthorType(StrEnum):
    agent = "agent"
    user = "user"


@dataclass(frozen=True)
class IssueComment:
    """A comment on an issue, by an agent (and the run it sent, if any) or by a board key (`user`)."""

    id: Id
    company_id: Id
    issue_id: Id
    author_type: AuthorType
    author_agent_id: Id | None
    created_by_run_id: Id | None
    body: str
    created_at: Timestamp
    updated_at: Timestamp


@dataclass(frozen=True)
class Wake:
    """One wake-up of an issue's agent: the latest attempt's outcome; `id` is the X-Routines-Wake-Id."""

    id: Id
    issue_id: Id
    agent_id: Id
    reason: str
    status: str
    attempts: int
    created_at: Timestamp
    updated_at: Timestamp
    last_error: str | None = None
    response_status: int | None = None
    delivered_at: Timestamp | None = None
