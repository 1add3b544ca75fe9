"""The DynamoDB tables as pynamodb models: the single source of the schema (local creation and infra).

Importing this module binds nothing: `bind(settings)` (called by `runtime.configure`) names each table
`<prefix>-<name>` and points every model at the configured endpoint.
"""

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.timefmt import from_iso
from chalicelib.settings import Settings
from chalicelib.store.retries import SEND_RETRIES

UNBOUND = "unbound"
M = TypeVar("M", bound=Model)


class _TableMeta:
    region: str | None = None
    host: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    billing_mode = "PAY_PER_REQUEST"
    # Lambda wants to fail fast rather than hang on pynamodb's 15 s / 30 s defaults.
    connect_timeout_seconds = 3
    read_timeout_seconds = 10
    max_retry_attempts = SEND_RETRIES
    max_pool_connections = 64


class DirectoryItem(Model):
    """Companies (`COMPANY`), agents (`AGENT#id`), projects (`PROJECT#id`), goals (`GOAL#id`) and the latest
    activity of the company (`ACTIVITY#<shard>`) and of each project (`ACTIVITY#PROJECT#id#<shard>`)."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-directory"

    companyId = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    issuePrefix = UnicodeAttribute(null=True)
    issueCounter = NumberAttribute(null=True)
    pausedAt = UnicodeAttribute(null=True)
    pauseReason = UnicodeAttribute(null=True)
    activityAt = UnicodeAttribute(null=True)
    activityOrigin = UnicodeAttribute(null=True)
    externalActivityAt = UnicodeAttribute(null=True)
    adapterType = UnicodeAttribute(null=True)
    adapterConfig = JSONAttribute(null=True)
    wakeSecret = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute(null=True)


class PrincipalIndex(GlobalSecondaryIndex["ApiKeyItem"]):
    class Meta:
        index_name = "byPrincipal"
        projection = AllProjection()

    principalId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class ApiKeyItem(Model):
    """Agent and board keys, by the SHA-256 of the key (the key itself is never stored)."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-api-keys"

    keyHash = UnicodeAttribute(hash_key=True)
    keyId = UnicodeAttribute(null=True)
    principalId = UnicodeAttribute()
    kind = UnicodeAttribute()
    agentId = UnicodeAttribute(null=True)
    companyId = UnicodeAttribute(null=True)
    companyIds = UnicodeSetAttribute(null=True)
    allCompanies = BooleanAttribute(default=False)
    label = UnicodeAttribute(null=True)
    prefix = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    revokedAt = UnicodeAttribute(null=True)
    byPrincipal = PrincipalIndex()


class RoutinesByCompany(GlobalSecondaryIndex["RoutineItem"]):
    class Meta:
        index_name = "byCompany"
        projection = AllProjection()

    companyId = UnicodeAttribute(hash_key=True)
    updatedAt = UnicodeAttribute(range_key=True)


class RoutineItem(Model):
    """Routines; `openIssues` holds `<issueId>:<originRunId>[:<originFingerprint>]` of every open execution
    issue (`domain.models.OpenIssue`)."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-routines"

    id = UnicodeAttribute(hash_key=True)
    companyId = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    assigneeAgentId = UnicodeAttribute(null=True)
    projectId = UnicodeAttribute(null=True)
    goalId = UnicodeAttribute(null=True)
    parentIssueId = UnicodeAttribute(null=True)
    priority = UnicodeAttribute()
    status = UnicodeAttribute()
    concurrencyPolicy = UnicodeAttribute()
    catchUpPolicy = UnicodeAttribute()
    version = NumberAttribute(default=1)
    openIssues = UnicodeSetAttribute(null=True)
    lastTriggeredAt = UnicodeAttribute(null=True)
    lastEnqueuedAt = UnicodeAttribute(null=True)
    lastDispatchedAt = UnicodeAttribute(null=True)
    lastRunId = UnicodeAttribute(null=True)
    runsTracked = BooleanAttribute(null=True)
    createdByAgentId = UnicodeAttribute(null=True)
    updatedByAgentId = UnicodeAttribute(null=True)
    variables = JSONAttribute(null=True)
    env = JSONAttribute(null=True)
    folderId = UnicodeAttribute(null=True)
    activityGatePolicy = UnicodeAttribute(null=True)
    activityGateScope = UnicodeAttribute(null=True)
    latestRevisionId = UnicodeAttribute(null=True)
    latestRevisionNumber = NumberAttribute(null=True)
    # pynamodb's stubs type a list of strings by its attribute class; the values are strings.
    triggerIds: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    byCompany = RoutinesByCompany()


class TriggersByRoutine(GlobalSecondaryIndex["TriggerItem"]):
    class Meta:
        index_name = "byRoutine"
        projection = AllProjection()

    routineId = UnicodeAttribute(hash_key=True)
    createdAt = UnicodeAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex["TriggerItem"]):
    """Sparse: only enabled schedule triggers of active routines carry `dueShard`."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    dueShard = UnicodeAttribute(hash_key=True)
    nextRunAt = UnicodeAttribute(range_key=True)


class TriggerItem(Model):
    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-triggers"

    id = UnicodeAttribute(hash_key=True)
    routineId = UnicodeAttribute()
    companyId = UnicodeAttribute()
    kind = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    cronExpression = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)
    nextRunAt = UnicodeAttribute(null=True)
    dueShard = UnicodeAttribute(null=True)
    lastFiredAt = UnicodeAttribute(null=True)
    lastResult = UnicodeAttribute(null=True)
    publicId = UnicodeAttribute(null=True)
    secret = UnicodeAttribute(null=True)
    signingMode = UnicodeAttribute(null=True)
    replayWindowSec = NumberAttribute(null=True)
    lastRotatedAt = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    byRoutine = TriggersByRoutine()
    due = DueIndex()


class RunItem(Model):
    """Run history of a routine, newest first by its time-ordered id."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-runs"

    routineId = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    companyId = UnicodeAttribute()
    triggerId = UnicodeAttribute(null=True)
    source = UnicodeAttribute()
    status = UnicodeAttribute()
    triggeredAt = UnicodeAttribute()
    scheduledFor = UnicodeAttribute(null=True)
    backfill = BooleanAttribute(null=True)
    idempotencyKey = UnicodeAttribute(null=True)
    triggerPayload = JSONAttribute(null=True)
    linkedIssueId = UnicodeAttribute(null=True)
    coalescedIntoRunId = UnicodeAttribute(null=True)
    failureReason = UnicodeAttribute(null=True)
    completedAt = UnicodeAttribute(null=True)
    droppedSlots = JSONAttribute(null=True)
    dispatchFingerprint = UnicodeAttribute(null=True)
    routineRevisionId = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    # Set once the run is final and its issue (if any) closed, when runs are retained for a number of days.
    expiresAt = NumberAttribute(null=True)


class RevisionItem(Model):
    """A routine's revisions by number, which the routine's `latestRevisionNumber` condition keeps gapless;
    the claims table's `revision#<id>` item finds one by id."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-revisions"

    routineId = UnicodeAttribute(hash_key=True)
    revisionNumber = NumberAttribute(range_key=True)
    id = UnicodeAttribute()
    companyId = UnicodeAttribute()
    snapshot = JSONAttribute()
    changeSummary = UnicodeAttribute()
    restoredFromRevisionId = UnicodeAttribute(null=True)
    createdByAgentId = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()


class IssuesByAssignee(GlobalSecondaryIndex["IssueItem"]):
    class Meta:
        index_name = "byAssignee"
        projection = AllProjection()

    assigneeAgentId = UnicodeAttribute(hash_key=True)
    updatedAt = UnicodeAttribute(range_key=True)


class IssuesByCompany(GlobalSecondaryIndex["IssueItem"]):
    class Meta:
        index_name = "byCompany"
        projection = AllProjection()

    companyId = UnicodeAttribute(hash_key=True)
    updatedAt = UnicodeAttribute(range_key=True)


class IssueItem(Model):
    """Issues; the table's stream (new and old images) is what wakes agents (`services.wakes`)."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-issues"
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = UnicodeAttribute(hash_key=True)
    companyId = UnicodeAttribute()
    identifier = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    priority = UnicodeAttribute()
    assigneeAgentId = UnicodeAttribute(null=True)
    projectId = UnicodeAttribute(null=True)
    goalId = UnicodeAttribute(null=True)
    parentId = UnicodeAttribute(null=True)
    originKind = UnicodeAttribute(null=True)
    originId = UnicodeAttribute(null=True)
    originRunId = UnicodeAttribute(null=True)
    createdByAgentId = UnicodeAttribute(null=True)
    originFingerprint = UnicodeAttribute(null=True)
    checkoutRunId = UnicodeAttribute(null=True)
    executionRunId = UnicodeAttribute(null=True)
    startedAt = UnicodeAttribute(null=True)
    completedAt = UnicodeAttribute(null=True)
    cancelledAt = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    byAssignee = IssuesByAssignee()
    byCompany = IssuesByCompany()


class CommentItem(Model):
    """An issue's comments, oldest to newest by their time-ordered ids."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-comments"

    issueId = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    companyId = UnicodeAttribute()
    authorType = UnicodeAttribute()
    authorAgentId = UnicodeAttribute(null=True)
    createdByRunId = UnicodeAttribute(null=True)
    body = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


class ClaimItem(Model):
    """Uniqueness guards (slots, idempotency keys, replays), id lookups (`public#`, `ref#`, `key#`, `issue#`,
    `revision#`) and webhook rate-limit windows (`rate#`). A `public#` item's `trigger` is a copy of its webhook
    trigger's configuration (the trigger item's attributes but its dispatch bookkeeping), written in every
    transaction that writes that configuration, so a delivery is verified from the lookup alone."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-claims"

    key = UnicodeAttribute(hash_key=True)
    runId = UnicodeAttribute(null=True)
    routineId = UnicodeAttribute(null=True)
    targetId = UnicodeAttribute(null=True)
    companyId = UnicodeAttribute(null=True)
    hits = NumberAttribute(null=True)
    revisionNumber = NumberAttribute(null=True)
    trigger = JSONAttribute(null=True)
    expiresAt = NumberAttribute(null=True)


class WakeItem(Model):
    """Wake-ups of an issue's agents, one item per wake id, with the latest attempt's outcome."""

    class Meta(_TableMeta):
        table_name = f"{UNBOUND}-wakes"

    issueId = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    agentId = UnicodeAttribute()
    reason = UnicodeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    lastError = UnicodeAttribute(null=True)
    responseStatus = NumberAttribute(null=True)
    deliveredAt = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()


ALL_TABLES: tuple[type[Model], ...] = (
    DirectoryItem,
    ApiKeyItem,
    RoutineItem,
    TriggerItem,
    RunItem,
    RevisionItem,
    IssueItem,
    CommentItem,
    ClaimItem,
    WakeItem,
)
TTL_ATTRIBUTES: dict[type[Model], str] = {RunItem: "expiresAt", ClaimItem: "expiresAt"}


def read(model: type[M], hash_key: Any, range_key: Any = None) -> M | None:
    """One item by its key, read consistently (an index may lag; this may not), or None."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except model.DoesNotExist:
        return None


def read_many(model: type[M], keys: Iterable[Any]) -> list[M]:
    """The items that exist among these keys (hash keys, or (hash, range) pairs), read consistently in
    batches of a hundred, side by side; each key is read once (asked in key order; the items come in any)."""
    ordered = sorted(set(keys))
    if len(ordered) <= BATCH_KEYS:
        return list(model.batch_get(ordered, consistent_read=True))
    chunks = [ordered[start : start + BATCH_KEYS] for start in range(0, len(ordered), BATCH_KEYS)]
    read = _BATCHES.map(lambda chunk: list(model.batch_get(chunk, consistent_read=True)), chunks)
    return [item for items in read for item in items]


BATCH_KEYS = 100  # BatchGetItem's limit
# While the client parses one batch's answer, the database serves the next. Its threads start on first use, as
# the services' pools' do: `routines dev --workers` forks before any of them has started.
_BATCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="batch-read")


@dataclass(frozen=True)
class Layout:
    """What the store needs to know beyond the tables: how many shards the `due` index has, and how long a
    final run (and its claims) is kept (None: forever)."""

    due_shards: int = 16
    run_retention_seconds: int | None = None

    def run_expiry(self, final_at: str) -> int | None:
        """The epoch second a run final at `final_at` expires at through TTL, if runs expire."""
        if self.run_retention_seconds is None:
            return None
        return int(from_iso(final_at).timestamp()) + self.run_retention_seconds


LAYOUT = [Layout()]


_NAMES = {model: model.Meta.table_name.removeprefix(f"{UNBOUND}-") for model in ALL_TABLES}


def _share_one_connection() -> None:
    """Points every table at one pynamodb `Connection`, so the process makes one botocore client, not one per
    table: each costs tens of milliseconds (a new session loads the service model), paid on each table's first
    request in every Lambda container and by every `routines` command. The tables share region, endpoint, keys
    and client settings (`_TableMeta`), so one client serves them all.

    The one private access, as in `store.tx`: pynamodb has no public setter for a model's connection. Nothing
    connects here; the client is still made on first use."""
    shared = ClaimItem._get_connection().connection
    for model in ALL_TABLES:
        table = model._get_connection()
        if table.connection is not shared:
            shared.add_meta_table(table.get_meta_table())  # what the table's own connection knew of its schema
            table.connection = shared


def name_of(model: type[Model]) -> str:
    """A table's name without its prefix: `runs`, `api-keys`..."""
    return _NAMES[model]


def bind(settings: Settings) -> None:
    """Names every table after the settings' prefix and points its client at their endpoint and keys."""
    for model, name in _NAMES.items():
        meta = model.Meta
        meta.table_name = f"{settings.table_prefix}-{name}"
        meta.region = settings.region
        meta.host = settings.dynamodb_endpoint
        meta.aws_access_key_id = settings.access_key_id
        meta.aws_secret_access_key = settings.secret_access_key
        model._connection = None  # pynamodb makes a client on first use; drop one made for earlier settings
    _share_one_connection()
    retention = settings.run_retention_days * 86400 if settings.run_retention_days else None
    LAYOUT[0] = Layout(due_shards=settings.due_shards, run_retention_seconds=retention)
