"""Commands: the request bodies as pydantic models. They validate input, describe it in the OpenAPI
document, and are what the services take (never a `dict`).

A field's default is stated here, once: the domain classes have none for what a caller chooses.
"""

from dataclasses import fields
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from chalicelib.domain.cron import DEFAULT_TIMEZONE
from chalicelib.domain.models import (
    ActivityGatePolicy,
    ActivityGateScope,
    AgentStatus,
    ConcurrencyPolicy,
    IssueStatus,
    Priority,
    RoutineStatus,
)
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.signing import DEFAULT_REPLAY_WINDOW_SEC, SigningMode
from chalicelib.domain.variables import Variable, VariableType
from chalicelib.domain.wakes import DEFAULT_TIMEOUT_MS, HTTP_ADAPTER, MAX_TIMEOUT_MS, TargetRefused, parse_target

Uuid = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
    AfterValidator(str.lower),
]
# `pattern` tells the document that blanks do not count (stripping comes first). "A character that is not
# blank" in every dialect involved: the validator's trim also removes \x85, Python's \x1c-\x1f, and JSON
# Schema's (ECMAScript) \s covers \ufeff; excluding the union keeps the document and validation in agreement.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)]
Text = Annotated[str, StringConstraints(max_length=100_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]


def _whole_number(value: Any) -> Any:
    """JSON has one number type: 300.0 is the integer 300; strings and booleans stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


ReplayWindow = Annotated[int, Field(ge=30, le=86_400, strict=True), BeforeValidator(_whole_number)]


class Body(BaseModel):
    """camelCase on the wire, unknown keys rejected."""

    # defer_build: a model's validator is built on first use, not at import (the tick never needs one).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)

    _not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _reject_nulls(self) -> Self:
        for name in self._not_null:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{to_camel(name)} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The OpenAPI document says what `_reject_nulls` enforces: these may be left out, not null."""
        schema = handler(core_schema)
        properties = handler.resolve_ref_schema(schema)["properties"]
        for name in cls._not_null:
            field = properties[to_camel(name)]
            kept = [item for item in field.pop("anyOf") if item != {"type": "null"}]
            field.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
            field.pop("default", None)
        return schema

    def sent(self, name: str) -> bool:
        """Whether the caller sent this field (a PATCH changes only what it sends)."""
        return name in self.model_fields_set

    def changes(self, target: Any) -> dict[str, Any]:
        """The sent fields that the dataclass `target` has, by name: what `replace(target, **…)` applies."""
        names = {field.name for field in fields(target)}
        return {name: getattr(self, name) for name in self.model_fields_set if name in names}


FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]
VariableValue = StrictBool | Annotated[int, Field(strict=True)] | FiniteNumber | str
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=NOT_BLANK)]


class VariableDefinition(Body):
    """A routine variable, as Paperclip's `routineVariableSchema` states it; the rules tying options and
    defaults to the type are checked with the routine (422), where the document cannot state them."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    label: Label | None = None
    type: VariableType = VariableType.text
    default_value: VariableValue | None = None
    required: StrictBool = True
    options: Annotated[list[Option], Field(max_length=50)] = []

    def definition(self) -> Variable:
        return Variable(self.name, self.type, self.label, self.default_value, self.required, tuple(self.options))


class PlainBinding(Body):
    type: Literal["plain"]
    value: str


class SecretRefBinding(BaseModel):
    """A binding to a stored secret: accepted by the schema, refused (422) until secrets exist here."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    type: Literal["secret_ref", "user_secret_ref"]


EnvBinding = str | PlainBinding | SecretRefBinding
Env = dict[str, EnvBinding]


class _RoutineFields(Body):
    def definitions(self) -> tuple[Variable, ...] | None:
        """The variable definitions sent, or None when the body has none."""
        sent: list[VariableDefinition] | None = getattr(self, "variables", None)
        return None if sent is None else tuple(item.definition() for item in sent)

    def env_json(self) -> dict[str, Any] | None:
        """The env sent, as JSON (bindings as objects, bare strings as they are)."""
        env: dict[str, Any] | None = self.model_dump(mode="json", include={"env"}).get("env")
        return env

    def routine_changes(self, target: Any) -> dict[str, Any]:
        """`changes(target)` with the variables and env as the domain holds them."""
        found = self.changes(target)
        if "variables" in found:
            found["variables"] = self.definitions()
        if "env" in found:
            found["env"] = self.env_json()
        return found


class CreateRoutine(_RoutineFields):
    title: Title
    description: Text | None = None
    assignee_agent_id: Uuid | None = None
    project_id: Uuid | None = None
    goal_id: Uuid | None = None
    parent_issue_id: Uuid | None = None
    priority: Priority = Priority.medium
    status: RoutineStatus = RoutineStatus.active
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.coalesce_if_active
    catch_up_policy: CatchUpPolicy = CatchUpPolicy.skip_missed
    variables: list[VariableDefinition] = []
    env: Env | None = None
    folder_id: Uuid | None = None
    activity_gate_policy: ActivityGatePolicy = ActivityGatePolicy.always
    activity_gate_scope: ActivityGateScope = ActivityGateScope.company


class UpdateRoutine(_RoutineFields):
    title: Title | None = None
    description: Text | None = None
    assignee_agent_id: Uuid | None = None
    project_id: Uuid | None = None
    goal_id: Uuid | None = None
    parent_issue_id: Uuid | None = None
    priority: Priority | None = None
    status: RoutineStatus | None = None
    concurrency_policy: ConcurrencyPolicy | None = None
    catch_up_policy: CatchUpPolicy | None = None
    variables: list[VariableDefinition] | None = None
    env: Env | None = None
    folder_id: Uuid | None = None
    activity_gate_policy: ActivityGatePolicy | None = None
    activity_gate_scope: ActivityGateScope | None = None
    base_revision_id: Uuid | None = Field(
        default=None,
        description="The revision the change was made from: when it is no longer the latest, 409 with "
        "`details.currentRevisionId`.",
    )

    _not_null = (
        "title",
        "priority",
        "status",
        "concurrency_policy",
        "catch_up_policy",
        "variables",
        "activity_gate_policy",
        "activity_gate_scope",
    )


class _TriggerBase(Body):
    label: Label | None = None
    enabled: StrictBool = True


class CreateScheduleTrigger(_TriggerBase):
    kind: Literal["schedule"]
    cron_expression: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)
    ]
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = DEFAULT_TIMEZONE


class CreateWebhookTrigger(_TriggerBase):
    kind: Literal["webhook"]
    signing_mode: SigningMode = SigningMode.bearer
    replay_window_sec: ReplayWindow = DEFAULT_REPLAY_WINDOW_SEC


class CreateApiTrigger(_TriggerBase):
    kind: Literal["api"]


CreateTrigger = Annotated[CreateScheduleTrigger | CreateWebhookTrigger | CreateApiTrigger, Field(discriminator="kind")]


class UpdateTrigger(Body):
    label: Label | None = None
    enabled: StrictBool | None = None
    cron_expression: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    signing_mode: SigningMode | None = None
    replay_window_sec: ReplayWindow | None = None

    _not_null = ("enabled",)


PREVIEW_DEFAULT, PREVIEW_MAX = 10, 100
PreviewCount = Annotated[int, Field(ge=1, le=PREVIEW_MAX, strict=True), BeforeValidator(_whole_number)]


class PreviewSchedule(Body):
    cron_expression: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = DEFAULT_TIMEZONE
    count: PreviewCount = PREVIEW_DEFAULT
    after: AwareDatetime | None = Field(default=None, description="List fire times after this instant (now).")


class Backfill(Body):
    trigger_id: Uuid
    start: AwareDatetime = Field(alias="from", description="The first instant of the window, included.")
    end: AwareDatetime = Field(alias="to", description="The end of the window, excluded; not in the future.")


class RunRoutine(Body):
    source: Literal["manual", "api"] = "manual"
    trigger_id: Uuid | None = None
    payload: dict[str, Any] | None = None
    variables: dict[str, VariableValue] | None = None
    assignee_agent_id: Uuid | None = None
    project_id: Uuid | None = None
    idempotency_key: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NOT_BLANK)] | None
    ) = None


class CreateCompany(Body):
    name: Name
    issue_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,9}$")] | None = None


def _wake_url(url: str) -> str:
    try:
        parse_target(url)
    except TargetRefused as exc:
        raise ValueError(str(exc)) from exc
    return url


class HttpAdapterConfig(Body):
    """How an `http` agent is woken: a POST of `{...payloadTemplate, agentId, runId, context}` to `url`."""

    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048), AfterValidator(_wake_url)]
    method: Literal["POST"] = "POST"
    headers: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")],
            Annotated[str, StringConstraints(max_length=4096, pattern=r"^[^\r\n]*$")],
        ],
        Field(max_length=32),
    ] = {}
    payload_template: dict[str, Any] = {}
    timeout_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MS, strict=True), BeforeValidator(_whole_number)] = (
        DEFAULT_TIMEOUT_MS
    )


AdapterType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class AgentAdapter(Body):
    adapter_type: AdapterType | None = None
    adapter_config: dict[str, Any] | None = Field(
        default=None,
        description="For adapterType http: {url, method (POST), headers, payloadTemplate, timeoutMs "
        f"(default {DEFAULT_TIMEOUT_MS}, at most {MAX_TIMEOUT_MS})}}; other types' configs are stored as sent.",
    )

    @model_validator(mode="after")
    def _check_http_config(self) -> Self:
        """An `http` agent's config is checked and stored with its defaults; other types' are kept as sent."""
        if self.adapter_type == HTTP_ADAPTER:
            self.adapter_config = http_config(self.adapter_config)
        return self


def http_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """An `http` adapter's config as stored: checked, with its defaults (pydantic's ValidationError if bad)."""
    return HttpAdapterConfig.model_validate(config or {}).model_dump(by_alias=True)


class CreateAgent(AgentAdapter):
    name: Name
    role: Name | None = None


class UpdateAgent(AgentAdapter):
    """What a PATCH changes; an `adapterConfig` sent alone is checked against the agent's current type."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    status: AgentStatus | None = None

    _not_null = ("status", "adapter_type")

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("Send status, adapterType or adapterConfig")
        return self


class CreateKey(Body):
    label: Label | None = None


class CreateProject(Body):
    name: Name
    description: Text | None = None


class PauseProject(Body):
    reason: Label | None = Field(default=None, description="Stored as `pauseReason` (`manual` when left out).")


class CreateGoal(Body):
    title: Title
    description: Text | None = None


def _real_newlines(value: Any) -> Any:
    """Agents often send `\\n` escaped once too often; Paperclip turns those into newlines, and so do we."""
    if isinstance(value, str):
        return value.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\r", "\n")
    return value


MAX_COMMENT_CHARS = 20_000
CommentText = Annotated[
    str,
    BeforeValidator(_real_newlines),
    StringConstraints(min_length=1, max_length=MAX_COMMENT_CHARS, pattern=NOT_BLANK),
]


class UpdateIssue(Body):
    title: Title | None = None
    description: Text | None = None
    status: IssueStatus | None = None
    priority: Priority | None = None
    assignee_agent_id: Uuid | None = None
    comment: CommentText | None = Field(default=None, description="Added with the change, in its transaction.")

    _not_null = ("title", "status", "priority")


class CheckoutIssue(Body):
    agent_id: Uuid
    expected_statuses: list[IssueStatus] = Field(min_length=1, max_length=len(IssueStatus))


class AddComment(Body):
    body: CommentText
