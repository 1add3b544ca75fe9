"""What a caller asks to read: which issues, routines, runs or comments, and which page, parsed from query
parameters."""

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest, Invalid
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import IssueStatus

Param = Callable[[str], str | None]
DEFAULT_ISSUE_PAGE = 500
MAX_ISSUE_PAGE = 1000
MAX_COMMENT_PAGE = 500
DEFAULT_ROUTINE_PAGE = 200
MAX_ROUTINE_PAGE = 500
DEFAULT_RUN_PAGE = 50
MAX_RUN_PAGE = 200
ISSUE_PARAMS = (
    "status",
    "assigneeAgentId",
    "projectId",
    "parentId",
    "parentIssueId",
    "originKind",
    "originId",
    "excludeRoutineExecutions",
    "limit",
    "nextCursor",
)
COMMENT_PARAMS = ("after", "afterCommentId", "order", "limit")
ROUTINE_PARAMS = ("projectId", "limit", "nextCursor")
RUN_PARAMS = ("limit", "nextCursor")


@dataclass(frozen=True)
class IssueQuery:
    """Which of a company's issues to list, and which page. `statuses` None matches any status (an empty set,
    none); every other empty field matches anything."""

    statuses: frozenset[str] | None = None
    assignee_agent_id: str | None = None
    unassigned: bool = False
    project_id: str | None = None
    parent_id: str | None = None
    origin_kind: str | None = None
    origin_id: str | None = None
    exclude_routine_executions: bool = False
    limit: int = DEFAULT_ISSUE_PAGE
    cursor: str | None = None

    @classmethod
    def parse(cls, param: Param) -> "IssueQuery":
        """Paperclip's list parameters: `status` comma-separated (unknown values match nothing), ids exact,
        `assigneeAgentId=null` for unassigned, `limit` clamped to 1000."""
        assignee = _text(param, "assigneeAgentId")
        if assignee and assignee.lower() != "null" and not is_id(assignee.lower()):
            raise Invalid("assigneeAgentId must be a UUID or 'null'")
        unassigned = (assignee or "").lower() == "null"
        return cls(
            statuses=_statuses(_text(param, "status")),
            assignee_agent_id=None if unassigned or not assignee else assignee.lower(),
            unassigned=unassigned,
            project_id=_uuid(param, "projectId"),
            parent_id=_uuid(param, "parentId") or _uuid(param, "parentIssueId"),
            origin_kind=_text(param, "originKind"),
            origin_id=_text(param, "originId"),
            exclude_routine_executions=_text(param, "excludeRoutineExecutions") in ("true", "1"),
            limit=_limit(param, DEFAULT_ISSUE_PAGE, MAX_ISSUE_PAGE) or DEFAULT_ISSUE_PAGE,
            cursor=_text(param, "nextCursor"),
        )


@dataclass(frozen=True)
class RoutineQuery:
    """Which of a company's routines to list (all, or one project's), and which page."""

    project_id: str | None = None
    limit: int = DEFAULT_ROUTINE_PAGE
    cursor: str | None = None

    @classmethod
    def parse(cls, param: Param) -> "RoutineQuery":
        """`projectId` exact, `limit` a positive integer (default 200) clamped to 500, `nextCursor`."""
        limit = _limit(param, DEFAULT_ROUTINE_PAGE, MAX_ROUTINE_PAGE) or DEFAULT_ROUTINE_PAGE
        return cls(_text(param, "projectId"), limit, _text(param, "nextCursor"))


@dataclass(frozen=True)
class RunQuery:
    """Which page of a routine's runs to list."""

    limit: int = DEFAULT_RUN_PAGE
    cursor: str | None = None

    @classmethod
    def parse(cls, param: Param) -> "RunQuery":
        """`limit` default 50, clamped to 1-200, anything non-numeric the default (as in the reference)."""
        try:
            limit = min(max(int(_text(param, "limit") or DEFAULT_RUN_PAGE), 1), MAX_RUN_PAGE)
        except ValueError:
            limit = DEFAULT_RUN_PAGE
        return cls(limit, _text(param, "nextCursor"))


@dataclass(frozen=True)
class CommentQuery:
    """Which of an issue's comments to list: after a cursor comment, newest first unless `ascending`."""

    after: str | None = None
    ascending: bool = False
    limit: int | None = None

    @classmethod
    def parse(cls, param: Param) -> "CommentQuery":
        """`after` (or `afterCommentId`), `order=asc|desc`, `limit` up to 500 (absent or invalid: all)."""
        order = _text(param, "order")
        if order not in (None, "asc", "desc"):
            raise BadRequest("order must be asc or desc")
        try:
            limit = _limit(param, None, MAX_COMMENT_PAGE)
        except BadRequest:
            limit = None
        return cls(_text(param, "after") or _text(param, "afterCommentId"), order == "asc", limit)


def _text(param: Param, name: str) -> str | None:
    value = (param(name) or "").strip()
    return value or None


def _statuses(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    return frozenset(status.value for status in IssueStatus if status.value in wanted)


def _uuid(param: Param, name: str) -> str | None:
    value = _text(param, name)
    if value and not is_id(value.lower()):
        raise Invalid(f"{name} must be a UUID")
    return value.lower() if value else None


def _limit(param: Param, default: int | None, maximum: int) -> int | None:
    value = _text(param, "limit")
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise BadRequest(f"limit must be a positive integer up to {maximum}")
    return min(int(value), maximum)
