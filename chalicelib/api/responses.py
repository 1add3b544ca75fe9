"""Response bodies as pydantic models: they describe what `render` produces, for the OpenAPI document.

They are never used to serialize; the tests validate real responses against them, and unknown keys are
rejected, so a field added to a view without its model (or a leaked secret) fails a test.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonDict, SkipJsonSchema

from chalicelib.domain.models import (
    AgentStatus,
    ConcurrencyPolicy,
    IssueStatus,
    Priority,
    RoutineStatus,
    RunSource,
    RunStatus,
    TriggerKind,
)
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.signing import SigningMode

Id = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
# UTC with milliseconds, fixed width: string order is time order.
Timestamp = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")]


def _drop_default(schema: JsonDict) -> None:
    """For keys that are left out rather than null (`X | SkipJsonSchema[None]`): no `default: null`."""
    schema.pop("default", None)


class ResponseBody(BaseModel):
    """camelCase on the wire, exactly these keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Routine(ResponseBody):
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
    last_triggered_at: Timestamp | None
    last_enqueued_at: Timestamp | None
    created_by_agent_id: Id | None
    updated_by_agent_id: Id | None
    variables: list[dict[str, Any]] = Field(max_length=0, description="Always empty: no routine variables yet.")


class Trigger(ResponseBody):
    """A trigger as its owner sees it: the webhook secret is shown only by create and rotate-secret."""

    id: Id
    routine_id: Id
    company_id: Id
    kind: TriggerKind
    label: str | None
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp
    cron_expression: str | None
    timezone: str | None
    next_run_at: Timestamp | None
    last_fired_at: Timestamp | None
    last_result: str | None
    public_id: str | None
    signing_mode: SigningMode | None
    replay_window_sec: int | None
    last_rotated_at: Timestamp | None
    webhook_url: str | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_drop_default, description="Webhook triggers only."
    )


class TriggerSummary(ResponseBody):
    id: Id
    kind: TriggerKind
    label: str | None
    enabled: bool
    cron_expression: str | None
    timezone: str | None
    next_run_at: Timestamp | None
    last_fired_at: Timestamp | None
    last_result: str | None


class SecretMaterial(ResponseBody):
    webhook_url: str
    webhook_secret: str = Field(description="Shown here and never again.")


class TriggerWithSecret(ResponseBody):
    trigger: Trigger
    secret_material: SecretMaterial | None = Field(description="Webhook triggers only; null for the others.")


class DroppedSlots(ResponseBody):
    count: int
    first: Timestamp
    last: Timestamp


class Run(ResponseBody):
    id: Id
    routine_id: Id
    company_id: Id
    source: RunSource
    status: RunStatus
    triggered_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    trigger_id: Id | None
    scheduled_for: Timestamp | None
    idempotency_key: str | None
    trigger_payload: dict[str, Any] | None
    linked_issue_id: Id | None
    coalesced_into_run_id: Id | None
    failure_reason: str | None
    completed_at: Timestamp | None
    dropped_slots: DroppedSlots | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_drop_default, description="Missed schedule slots this run records."
    )


class IssueSummary(ResponseBody):
    id: Id
    identifier: str
    title: str
    status: IssueStatus
    priority: Priority
    updated_at: Timestamp


class RoutineDetail(Routine):
    triggers: list[Trigger]
    recent_runs: list[Run]
    active_issue: IssueSummary | None


class RoutineListItem(Routine):
    triggers: list[TriggerSummary]
    last_run: Run | None
    active_issue: IssueSummary | None


class Issue(ResponseBody):
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
    created_at: Timestamp
    updated_at: Timestamp
    origin_kind: str | None
    origin_id: Id | None
    origin_run_id: Id | None
    created_by_agent_id: Id | None
    parent_id: Id | None


class Company(ResponseBody):
    id: Id
    name: str
    issue_prefix: str
    created_at: Timestamp


class Agent(ResponseBody):
    id: Id
    company_id: Id
    name: str
    status: AgentStatus
    role: str | None
    created_at: Timestamp
    updated_at: Timestamp


class Project(ResponseBody):
    id: Id
    company_id: Id
    name: str
    description: str | None
    paused_at: Timestamp | None
    created_at: Timestamp


class Goal(ResponseBody):
    id: Id
    company_id: Id
    title: str
    description: str | None
    created_at: Timestamp


class AgentKey(ResponseBody):
    agent_id: Id
    company_id: Id
    label: str | None
    token: str = Field(description="The API key: shown here and never again.")


class Health(ResponseBody):
    status: Literal["ok", "degraded"]
    version: str
    tables: dict[str, bool] = Field(description="Whether each table answers.")


class Problem(ResponseBody):
    """One reason a request body was rejected."""

    path: str = Field(description="Dotted path of the offending field (empty for the body itself).")
    message: str
    code: str


class Error(ResponseBody):
    error: str
    details: list[Problem] | dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_drop_default,
        description="Validation problems (400), or what a conflict is about (409).",
    )


class RateLimited(ResponseBody):
    error: str
    retry_after_seconds: int
