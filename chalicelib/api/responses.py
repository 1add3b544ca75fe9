"""Response bodies: pydantic models generated from the domain classes; every JSON answer is one of them.

A body has its domain class's fields, camelCase on the wire, less what callers never see (a webhook's
secret, a routine's version), with a trigger's `schedule` and `webhook` specs flattened beside the others.
A field added to a domain class is in the API and its OpenAPI document at once; unknown keys are rejected,
so nothing reaches a caller that the model does not name.
"""

import dataclasses
import functools
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

# pydantic's metaclass: a body's fields must be in its namespace before pydantic reads the class.
from pydantic._internal._model_construction import ModelMetaclass
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonDict, SkipJsonSchema

from chalicelib.domain import cron, variables
from chalicelib.domain import models as domain
from chalicelib.domain.timefmt import to_iso
from chalicelib.services import backfill, directory, issues, restore, routines, triggers

Json = dict[str, Any]
Id = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
# UTC with milliseconds, fixed width: string order is time order.
Timestamp = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")]
_WIRE_TYPES = {"id": Id, "timestamp": Timestamp}


def _drop_default(schema: JsonDict) -> None:
    """For keys that are left out rather than null (`X | SkipJsonSchema[None]`): no `default: null`."""
    schema.pop("default", None)


def _left_out_when_none(description: str) -> Any:
    return Field(default=None, json_schema_extra=_drop_default, description=description)


@dataclasses.dataclass(frozen=True)
class Shape:
    """How a domain value becomes a body: nested specs spread flat, keys left out when None, logged ids."""

    flatten: tuple[str, ...] = ()
    left_out_when_none: frozenset[str] = frozenset()
    logged: tuple[tuple[str, str], ...] = ()


class _FromDomain(ModelMetaclass):
    """Gives a body the fields of a domain class, before pydantic reads them:
    `class Run(ResponseBody, source=domain.Run, exclude=(...))` (or `include=(...)`)."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        source, exclude, include = kwargs.pop("source", None), kwargs.pop("exclude", ()), kwargs.pop("include", None)
        if source is not None:
            shape = namespace.get("shape") or next(base.shape for base in bases if hasattr(base, "shape"))
            own = namespace.get("__annotations__", {})
            namespace["__annotations__"] = {**_fields_of(source, shape.flatten, exclude, include), **own}
        return super().__new__(mcs, name, bases, namespace, **kwargs)


class ResponseBody(BaseModel, metaclass=_FromDomain):
    """camelCase on the wire, exactly these keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    shape: ClassVar[Shape] = Shape()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Takes the `source`, `exclude` and `include` class keywords (the metaclass reads them)."""
        super().__init_subclass__()

    @classmethod
    def of(cls, value: Any, **extra: Any) -> Self:
        """The body of a domain value (a dataclass), with `extra` for the keys the value does not hold."""
        return cls.model_validate({**_attributes(value, cls.shape.flatten, cls.model_fields), **extra})

    def dump(self) -> Json:
        """The JSON body."""
        return self.model_dump(mode="json", by_alias=True)

    @model_serializer(mode="wrap")
    def _leave_out_nones(self, serialize: SerializerFunctionWrapHandler) -> Json:
        """Keys documented as left out rather than null, at any depth (a run inside a routine too)."""
        data: Json = serialize(self)
        for name in self.shape.left_out_when_none:
            if getattr(self, name) is None:
                data.pop(to_camel(name), None)
                data.pop(name, None)
        return data

    def log_fields(self) -> dict[str, str]:
        """The ids a request's log line names (never a secret or a body)."""
        return {key: getattr(self, name) for key, name in self.shape.logged if getattr(self, name, None)}


def _attributes(value: Any, flatten: tuple[str, ...], wanted: Iterable[str]) -> Json:
    found: Json = {}
    for field in dataclasses.fields(value):
        held = getattr(value, field.name)
        if field.name in flatten:
            found.update(_spread(_nested_class(value.__class__, field.name), held))
        else:
            found[field.name] = held
    return {name: found[name] for name in wanted if name in found}


def _spread(nested: type, held: Any) -> Json:
    return {field.name: getattr(held, field.name) if held else None for field in dataclasses.fields(nested)}


@functools.cache
def _nested_class(cls: type, name: str) -> type:
    hint = get_type_hints(cls)[name]
    return next(kind for kind in get_args(hint) if dataclasses.is_dataclass(kind))  # type: ignore[return-value]


def _fields_of(
    source: type, flatten: tuple[str, ...], exclude: Iterable[str], include: Iterable[str] | None
) -> dict[str, Any]:
    """The annotations of `source`'s fields, in its order, with their wire types; specs in `flatten` spread."""
    hints = get_type_hints(source, include_extras=True)
    found: dict[str, Any] = {}
    for field in dataclasses.fields(source):
        if field.name in flatten:
            nested = _nested_class(source, field.name)
            inner = get_type_hints(nested, include_extras=True)
            found.update({f.name: _wire(inner[f.name]) | None for f in dataclasses.fields(nested)})
        else:
            found[field.name] = _wire(hints[field.name])
    kept = set(include) if include is not None else set(found)
    return {name: kind for name, kind in found.items() if name in kept and name not in set(exclude)}


def _wire(hint: Any) -> Any:
    """The domain's type with `Id` and `Timestamp` strings given their wire patterns."""
    if get_origin(hint) is Annotated:
        return _WIRE_TYPES.get(hint.__metadata__[0], hint)
    if get_origin(hint) in (Union, type(int | None)):
        return Union[tuple(_wire(arg) for arg in get_args(hint))]  # noqa: UP007 - built from parts
    return hint


class Company(ResponseBody, source=domain.Company):
    pass


REDACTED = "***"


class Agent(ResponseBody, source=domain.Agent):
    """An agent; its adapter's header values are never echoed (they often hold credentials)."""

    @classmethod
    def of(cls, value: Any, **extra: Any) -> Self:
        config = value.adapter_config
        if config and isinstance(config.get("headers"), dict):
            config = {**config, "headers": dict.fromkeys(config["headers"], REDACTED)}
        return super().of(dataclasses.replace(value, adapter_config=config), **extra)


class AgentWithSecret(Agent):
    wake_secret: str | SkipJsonSchema[None] = _left_out_when_none(
        "The key wake-ups are signed with: shown when made, never again (an http agent's create, change or rotate)."
    )
    shape = Shape(left_out_when_none=frozenset({"wake_secret"}))

    @classmethod
    def made(cls, value: directory.AgentWithSecret) -> Self:
        return cls.of(value.agent, wake_secret=value.wake_secret)


class Wake(ResponseBody, source=domain.Wake):
    pass


class Project(ResponseBody, source=domain.Project):
    pass


class Goal(ResponseBody, source=domain.Goal):
    pass


class Variable(ResponseBody, source=variables.Variable):
    """A `{{name}}` placeholder of the title or description, and how a firing fills it."""


_ROUTINE_INTERNAL = ("version", "open_issues", "last_dispatched_at", "last_run_id", "runs_tracked", "trigger_ids")


class Routine(ResponseBody, source=domain.Routine, exclude=_ROUTINE_INTERNAL):
    shape = Shape(logged=(("routineId", "id"),))
    variables: list[Variable]

    @classmethod
    def of(cls, value: Any, **extra: Any) -> Self:
        return super().of(value, **{"variables": [Variable.of(item) for item in value.variables], **extra})


_TRIGGER_SHAPE = Shape(flatten=("schedule", "webhook"))


class Trigger(ResponseBody, source=domain.Trigger, exclude=("secret",)):
    """A trigger as its owner sees it: the webhook secret is shown only by create and rotate-secret."""

    shape = dataclasses.replace(
        _TRIGGER_SHAPE,
        left_out_when_none=frozenset({"webhook_url"}),
        logged=(("triggerId", "id"), ("routineId", "routine_id")),
    )
    webhook_url: str | SkipJsonSchema[None] = _left_out_when_none("Webhook triggers only.")

    @classmethod
    def at(cls, value: domain.Trigger, base_url: str) -> Self:
        """The trigger, with its webhook URL as seen from `base_url`."""
        url = triggers.webhook_url(base_url, value.webhook.public_id) if value.webhook else None
        return cls.of(value, webhook_url=url)


class TriggerSummary(
    ResponseBody,
    source=domain.Trigger,
    include=(
        "id",
        "kind",
        "label",
        "enabled",
        "cron_expression",
        "timezone",
        "next_run_at",
        "last_fired_at",
        "last_result",
    ),
):
    shape = _TRIGGER_SHAPE


class SecretMaterial(ResponseBody):
    webhook_url: str
    webhook_secret: str = Field(description="Shown here and never again.")


class TriggerWithSecret(ResponseBody):
    trigger: Trigger
    secret_material: SecretMaterial | None = Field(description="Webhook triggers only; null for the others.")

    @classmethod
    def at(cls, value: triggers.TriggerWithSecret, base_url: str) -> Self:
        material = SecretMaterial.of(value.secret_material) if value.secret_material else None
        return cls(trigger=Trigger.at(value.trigger, base_url), secret_material=material)


class DroppedSlots(ResponseBody):
    count: int
    first: Timestamp
    last: Timestamp


_RUN_SHAPE = Shape(
    left_out_when_none=frozenset({"dropped_slots"}),
    logged=(("runId", "id"), ("routineId", "routine_id"), ("triggerId", "trigger_id")),
)


class Run(ResponseBody, source=domain.Run, exclude=("dropped_slots",)):
    shape = _RUN_SHAPE
    dropped_slots: DroppedSlots | SkipJsonSchema[None] = _left_out_when_none("Missed schedule slots this run records.")


class Backfilled(ResponseBody):
    runs: list[Run] = Field(description="The runs this request wrote, oldest first.")
    already_fired: list[Run] = Field(description="The earlier run of each slot that had already fired.")

    @classmethod
    def of_backfill(cls, value: backfill.Backfilled) -> Self:
        return cls(runs=[Run.of(run) for run in value.runs], already_fired=[Run.of(run) for run in value.already_fired])


class FireTime(ResponseBody):
    utc: Timestamp
    local: str = Field(description="The same instant on the schedule's wall clock, with its UTC offset.")
    moved_by_gap: bool = Field(
        description="Its wall-clock time does not exist that day (spring forward): it fires at the end of the gap."
    )
    first_of_repeat: bool = Field(
        description="Its wall-clock time occurs twice that day (fall back): it fires once, at the first."
    )


class SchedulePreview(ResponseBody):
    times: list[FireTime]

    @classmethod
    def of_times(cls, times: list[cron.FireTime]) -> Self:
        return cls(times=[FireTime.of(time, utc=to_iso(time.utc), local=time.local.isoformat()) for time in times])


class IssueSummary(
    ResponseBody, source=domain.Issue, include=("id", "identifier", "title", "status", "priority", "updated_at")
):
    pass


class Issue(ResponseBody, source=domain.Issue):
    shape = Shape(logged=(("issueId", "id"),))


class IssueComment(ResponseBody, source=domain.IssueComment):
    pass


class TriggerRef(ResponseBody, source=domain.Trigger, include=("id", "kind", "label")):
    pass


class RunSummary(Run):
    """A run in a list: with the issue it links to and the trigger that fired it (null when gone)."""

    linked_issue: IssueSummary | None
    trigger: TriggerRef | None

    @classmethod
    def of_summary(cls, value: routines.RunSummary) -> Self:
        issue = IssueSummary.of(value.linked_issue) if value.linked_issue else None
        return cls.of(value.run, linked_issue=issue, trigger=TriggerRef.of(value.trigger) if value.trigger else None)


class UpdatedIssue(Issue):
    shape = Shape(left_out_when_none=frozenset({"comment"}), logged=(("issueId", "id"),))
    comment: IssueComment | SkipJsonSchema[None] = _left_out_when_none("The comment sent with the change.")


class InboxItem(
    ResponseBody,
    source=domain.Issue,
    include=("id", "identifier", "title", "status", "priority", "project_id", "goal_id", "parent_id", "updated_at"),
):
    """An open issue of the calling agent, compact. Heartbeat runs, recovery actions and blockers are
    Paperclip's, not ours: those keys always hold their empty values."""

    active_run: None = None
    active_recovery_action: None = None
    dependency_ready: bool = True
    unresolved_blocker_count: int = 0
    unresolved_blocker_issue_ids: list[Id] = Field(default=[], max_length=0)


class ContextIssue(
    ResponseBody,
    source=domain.Issue,
    include=(
        "id",
        "identifier",
        "title",
        "description",
        "status",
        "priority",
        "project_id",
        "goal_id",
        "parent_id",
        "assignee_agent_id",
        "origin_kind",
        "origin_id",
        "origin_run_id",
        "updated_at",
    ),
):
    blocked_by: list[Id] = Field(default=[], max_length=0)
    blocks: list[Id] = Field(default=[], max_length=0)


class ContextProject(ResponseBody):
    id: Id
    name: str
    status: Literal["active", "paused"]
    target_date: None = None


class ContextGoal(ResponseBody):
    id: Id
    title: str
    status: None = None
    level: None = None
    parent_id: None = None


class ContextRoutine(ResponseBody, source=domain.Routine, include=("id", "title", "concurrency_policy", "status")):
    pass


class CommentCursor(ResponseBody):
    total_comments: int
    latest_comment_id: Id | None
    latest_comment_at: Timestamp | None


class HeartbeatContext(ResponseBody):
    """The issue, where it comes from (for an execution issue: its routine and the run, with what fired it)
    and where its comments stand."""

    issue: ContextIssue
    ancestors: list[IssueSummary] = Field(max_length=0)
    project: ContextProject | None
    goal: ContextGoal | None
    routine: ContextRoutine | None
    run: Run | None
    comment_cursor: CommentCursor
    wake_comment: IssueComment | None
    attachments: list[Json] = Field(max_length=0)
    continuation_summary: None = None

    @classmethod
    def of_context(cls, value: issues.HeartbeatContext) -> Self:
        latest = value.latest_comment
        project = value.project
        return cls(
            issue=ContextIssue.of(value.issue),
            ancestors=[],
            project=ContextProject(id=project.id, name=project.name, status="paused" if project.paused_at else "active")
            if project
            else None,
            goal=ContextGoal(id=value.goal.id, title=value.goal.title) if value.goal else None,
            routine=ContextRoutine.of(value.routine) if value.routine else None,
            run=Run.of(value.run) if value.run else None,
            comment_cursor=CommentCursor(
                total_comments=value.total_comments,
                latest_comment_id=latest.id if latest else None,
                latest_comment_at=latest.created_at if latest else None,
            ),
            wake_comment=IssueComment.of(value.wake_comment) if value.wake_comment else None,
            attachments=[],
        )


class Assignee(ResponseBody, source=domain.Agent, include=("id", "name", "role")):
    """The routine's agent as Paperclip's detail summarises it. Agents here have no title (null)."""

    title: None = None
    url_key: str = Field(description="The name lower-cased, each run of other characters a dash; else the id.")

    @classmethod
    def of_agent(cls, value: domain.Agent) -> Self:
        return cls.of(value, url_key=value.url_key)


class RoutineDetail(Routine):
    triggers: list[Trigger]
    recent_runs: list[RunSummary]
    active_issue: Issue | None = Field(description="The newest open execution issue of the routine.")
    project: Project | None
    assignee: Assignee | None
    parent_issue: Issue | None
    managed_by_plugin: None = Field(default=None, description="Always null: there are no plugins here.")
    description_document: None = Field(default=None, description="Always null: descriptions are plain fields here.")

    @classmethod
    def at(cls, value: routines.RoutineDetail, base_url: str) -> Self:
        return cls.of(
            value.routine,
            triggers=[Trigger.at(trigger, base_url) for trigger in value.triggers],
            recent_runs=[RunSummary.of_summary(run) for run in value.recent_runs],
            active_issue=Issue.of(value.active_issue) if value.active_issue else None,
            project=Project.of(value.project) if value.project else None,
            assignee=Assignee.of_agent(value.assignee) if value.assignee else None,
            parent_issue=Issue.of(value.parent_issue) if value.parent_issue else None,
        )


class RoutineListItem(Routine):
    triggers: list[TriggerSummary]
    last_run: RunSummary | None
    active_issue: IssueSummary | None
    managed_by_plugin: None = Field(default=None, description="Always null: there are no plugins here.")

    @classmethod
    def of_detail(cls, value: routines.RoutineDetail) -> Self:
        return cls.of(
            value.routine,
            triggers=[TriggerSummary.of(trigger) for trigger in value.triggers],
            last_run=RunSummary.of_summary(value.recent_runs[0]) if value.recent_runs else None,
            active_issue=IssueSummary.of(value.active_issue) if value.active_issue else None,
        )


class Revision(ResponseBody, source=domain.Revision):
    """A routine's fields and triggers as one change left them (`snapshot`: `{version, routine, triggers}`)."""

    shape = Shape(logged=(("revisionId", "id"), ("routineId", "routine_id")))


class RestoredSecret(ResponseBody):
    trigger_id: Id
    webhook_url: str
    webhook_secret: str = Field(description="Shown here and never again.")


class RestoredRevision(ResponseBody):
    routine: Routine
    revision: Revision
    restored_from_revision_id: Id
    restored_from_revision_number: int
    secret_materials: list[RestoredSecret] = Field(description="Recreated webhook triggers only.")

    @classmethod
    def of_restored(cls, value: restore.Restored) -> Self:
        return cls(
            routine=Routine.of(value.routine),
            revision=Revision.of(value.revision),
            restored_from_revision_id=value.restored_from.id,
            restored_from_revision_number=value.restored_from.revision_number,
            secret_materials=[
                RestoredSecret(trigger_id=trigger_id, **dataclasses.asdict(material))
                for trigger_id, material in value.secret_materials
            ],
        )


class AgentKey(ResponseBody):
    id: str = Field(description="The key's id, to revoke it with `DELETE /agents/{agentId}/keys/{keyId}`.")
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
