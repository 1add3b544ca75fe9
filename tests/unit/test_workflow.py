"""An issue's status rules as tables: what each change stamps, and what its origin run does."""

from dataclasses import replace

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Issue, IssueStatus, Priority
from chalicelib.domain.queries import CommentQuery, IssueQuery
from chalicelib.domain.workflow import RunFollows, apply_status, run_follows

S = IssueStatus
EARLIER, NOW = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
AGENT, OTHER, RUN = "a" * 8, "b" * 8, "r" * 8


@pytest.mark.parametrize(
    ("was", "now", "follows"),
    [
        (S.todo, S.done, RunFollows.completes),
        (S.cancelled, S.done, RunFollows.completes),
        (S.todo, S.blocked, RunFollows.fails),
        (S.done, S.cancelled, RunFollows.fails),
        (S.in_progress, S.cancelled, RunFollows.fails),
        (S.blocked, S.todo, RunFollows.reverts),
        (S.cancelled, S.in_progress, RunFollows.reverts),
        (S.done, S.backlog, RunFollows.reverts),
        (S.todo, S.in_progress, RunFollows.stays),
        (S.in_progress, S.in_review, RunFollows.stays),
        (S.done, S.done, RunFollows.stays),
        (S.blocked, S.blocked, RunFollows.stays),
    ],
)
def test_the_run_follows_the_issue_status(was: IssueStatus, now: IssueStatus, follows: RunFollows) -> None:
    assert run_follows(was, now) == follows


def issue(status: IssueStatus, **fields: object) -> Issue:
    base = Issue("i", "c", "ACME-1", "t", None, status, Priority.medium, AGENT, None, None, None, EARLIER, EARLIER)
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "status", "stamps"),
    [
        (issue(S.todo), S.in_progress, {"started_at": NOW}),
        (
            issue(S.in_progress, started_at=EARLIER, checkout_run_id=RUN),
            S.done,
            {"started_at": EARLIER, "completed_at": NOW},
        ),
        (issue(S.done, completed_at=EARLIER), S.cancelled, {"cancelled_at": NOW}),
        (issue(S.cancelled, cancelled_at=EARLIER), S.todo, {}),
        (issue(S.in_progress, checkout_run_id=RUN, execution_run_id=RUN), S.in_review, {}),
    ],
)
def test_a_status_change_stamps_and_unlocks(before: Issue, status: IssueStatus, stamps: dict[str, str]) -> None:
    after = apply_status(before, replace(before, status=status), NOW)

    stamped = {"started_at": after.started_at, "completed_at": after.completed_at, "cancelled_at": after.cancelled_at}
    assert {name: value for name, value in stamped.items() if value} == stamps
    assert (after.checkout_run_id, after.execution_run_id) == (None, None)


def test_a_new_assignee_drops_the_checkout_but_the_same_status_keeps_it() -> None:
    held = issue(S.in_progress, checkout_run_id=RUN, execution_run_id=RUN, started_at=EARLIER)

    assert apply_status(held, replace(held, title="x"), NOW) == replace(held, title="x")
    moved = apply_status(held, replace(held, assignee_agent_id=OTHER), NOW)
    assert (moved.checkout_run_id, moved.started_at) == (None, EARLIER)


def params(**given: str) -> IssueQuery:
    return IssueQuery.parse(given.get)


def test_issue_query_parameters_parse_as_paperclip_reads_them() -> None:
    assert params().statuses is None
    assert params(status="todo, in_progress,,bogus").statuses == {"todo", "in_progress"}
    assert params(status="bogus").statuses == frozenset()
    assert params(limit="5000").limit == 1000
    assert params().limit == 500
    assert params(assigneeAgentId="Null").unassigned
    assert params(parentIssueId="0190AAAA-0000-7000-8000-000000000000").parent_id == (
        "0190aaaa-0000-7000-8000-000000000000"
    )


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "ten", "١٢"])
def test_a_bad_issue_limit_is_refused(limit: str) -> None:
    with pytest.raises(BadRequest):
        params(limit=limit)


def test_comment_queries_default_to_all_newest_first() -> None:
    assert CommentQuery.parse({}.get) == CommentQuery(None, False, None)
    assert CommentQuery.parse({"order": "asc", "limit": "900", "afterCommentId": "x"}.get) == CommentQuery(
        "x", True, 500
    )
    assert CommentQuery.parse({"limit": "nope"}.get).limit is None
    with pytest.raises(BadRequest):
        CommentQuery.parse({"order": "sideways"}.get)
