"""The agent's side of execution issues, as Paperclip's heartbeat procedure drives it: who am I, what is in my
inbox, check out, comment, close, and what the run does meanwhile."""

from typing import Any

import pytest

from tests.support import Client, World, json_of

UNKNOWN_ID = "0190aaaa-0000-7000-8000-000000000000"
RUN_1 = "0190bbbb-0000-7000-8000-000000000001"
RUN_2 = "0190bbbb-0000-7000-8000-000000000002"
OPEN_STATUSES = ["backlog", "todo", "in_progress", "in_review", "blocked"]


def fire(world: World, routine_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(json_of(world.board.post(f"/routines/{routine_id}/run", body or {}), 202))


def issue_of(world: World, **routine: Any) -> str:
    """A new execution issue, assigned to Alpha unless told otherwise."""
    return str(fire(world, world.routine(**routine)["id"])["linkedIssueId"])


def run_header(run_id: str) -> dict[str, str]:
    return {"X-Paperclip-Run-Id": run_id}


def checkout(client: Client, issue_id: str, agent_id: str, statuses: list[str] | None = None, **kw: Any) -> Any:
    body = {"agentId": agent_id, "expectedStatuses": statuses or ["todo", "backlog", "blocked"]}
    return client.post(f"/issues/{issue_id}/checkout", body, **kw)


def issue(world: World, issue_id: str) -> dict[str, Any]:
    return dict(json_of(world.board.get(f"/issues/{issue_id}")))


def run_of(world: World, routine_id: str, run_id: str) -> dict[str, Any]:
    runs = json_of(world.board.get(f"/routines/{routine_id}/runs"))
    return dict(next(run for run in runs if run["id"] == run_id))


def listed(world: World, **params: str) -> list[str]:
    return [item["id"] for item in json_of(world.board.get(f"/companies/{world.company_id}/issues", params=params))]


# --- who am I, and my inbox ---------------------------------------------------------------------------------


def test_an_agent_reads_itself(world: World) -> None:
    me = json_of(world.alpha.get("/agents/me"))

    assert (me["id"], me["name"], me["companyId"]) == (world.alpha_id, "Alpha", world.company_id)
    assert me["status"] == "active"
    assert "role" in me


@pytest.mark.parametrize("path", ["/agents/me", "/agents/me/inbox-lite"])
def test_only_agents_have_a_me(world: World, path: str) -> None:
    board = world.board.get(path)

    assert (board.status_code, board.json()) == (401, {"error": "Agent authentication required"})
    assert world.anonymous.get(path).status_code == 401


def test_the_inbox_holds_my_open_work_most_urgent_first(world: World) -> None:
    low = issue_of(world, priority="low")
    high = issue_of(world, priority="high")
    medium_older, medium_newer = issue_of(world), issue_of(world)
    issue_of(world, assigneeAgentId=world.bravo_id)
    for closed, status in ((issue_of(world), "done"), (issue_of(world), "in_review"), (issue_of(world), "backlog")):
        json_of(world.board.patch(f"/issues/{closed}", {"status": status}))
    json_of(world.board.patch(f"/issues/{low}", {"status": "blocked"}))

    inbox = json_of(world.alpha.get("/agents/me/inbox-lite"))

    assert [item["id"] for item in inbox] == [high, medium_newer, medium_older, low]
    assert set(inbox[0]) == {
        "id", "identifier", "title", "status", "priority", "projectId", "goalId", "parentId", "updatedAt",
        "activeRun", "activeRecoveryAction", "dependencyReady", "unresolvedBlockerCount", "unresolvedBlockerIssueIds",
    }  # fmt: skip
    assert (inbox[0]["dependencyReady"], inbox[0]["activeRun"]) == (True, None)
    assert json_of(world.bravo.get("/agents/me/inbox-lite"))[0]["id"] not in {high, low}


# --- finding issues -------------------------------------------------------------------------------------------


def test_status_takes_a_comma_separated_list(world: World) -> None:
    todo, started, done = issue_of(world), issue_of(world), issue_of(world)
    json_of(checkout(world.alpha, started, world.alpha_id))
    json_of(world.board.patch(f"/issues/{done}", {"status": "done"}))

    skill_query = {"assigneeAgentId": world.alpha_id, "status": "todo,in_progress,in_review,blocked"}

    assert set(listed(world, **skill_query)) == {todo, started}
    assert set(listed(world, status=" done , nonsense,")) == {done}
    assert listed(world, status="nonsense") == []
    assert set(listed(world, status="")) == {todo, started, done}


def test_issue_filters_combine(world: World, other_world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    mine = fire(world, routine["id"])["linkedIssueId"]
    theirs = issue_of(world, assigneeAgentId=world.bravo_id)
    released = issue_of(world)
    json_of(checkout(world.alpha, released, world.alpha_id))
    json_of(world.alpha.post(f"/issues/{released}/release"))

    assert listed(world, assigneeAgentId="null") == [released]
    assert listed(world, assigneeAgentId="NULL", status="todo") == [released]
    assert listed(world, originId=routine["id"], originKind="routine_execution") == [mine]
    assert listed(world, projectId=world.project_id, assigneeAgentId=world.bravo_id) == [theirs]
    assert listed(world, excludeRoutineExecutions="true") == []
    assert listed(world, excludeRoutineExecutions="1", originId=routine["id"]) == [mine]
    assert listed(world, originKind="manual") == []
    assert listed(world, projectId=UNKNOWN_ID) == []


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"assigneeAgentId": "alpha"}, 422, "assigneeAgentId must be a UUID or 'null'"),
        ({"projectId": "ops"}, 422, "projectId must be a UUID"),
        ({"limit": "0"}, 400, "limit must be a positive integer up to 1000"),
        ({"limit": "ten"}, 400, "limit must be a positive integer up to 1000"),
        ({"limit": "-3"}, 400, "limit must be a positive integer up to 1000"),
        ({"nextCursor": "not-a-cursor"}, 422, "nextCursor is not a cursor this list handed out"),
        ({"nextCursor": "WyJ4IiwgInkiXQ"}, 422, "nextCursor is not a cursor this list handed out"),
    ],
)
def test_malformed_issue_queries_are_refused(world: World, params: dict[str, str], status: int, error: str) -> None:
    response = world.board.get(f"/companies/{world.company_id}/issues", params=params)

    assert (response.status_code, response.json()) == (status, {"error": error})


def test_the_issue_list_is_paged_to_the_end(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    made = {fire(world, routine["id"])["linkedIssueId"] for _ in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0

    while True:
        params = {"limit": "3", **({"nextCursor": cursor} if cursor else {})}
        response = world.board.get(f"/companies/{world.company_id}/issues", params=params)
        page = json_of(response)
        seen += [item["id"] for item in page]
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(made)
    assert seen == sorted(made, reverse=True)  # most recently updated first
    assert len(listed(world, limit="5000")) == 7  # clamped to 1000, not refused


def test_a_filtered_page_holds_its_limit_of_matches(world: World) -> None:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    wanted = []
    for n in range(6):
        issue_id = fire(world, routine["id"])["linkedIssueId"]
        if n % 2:
            json_of(world.board.patch(f"/issues/{issue_id}", {"status": "in_review"}))
            wanted.append(issue_id)

    first = world.board.get(f"/companies/{world.company_id}/issues", params={"status": "in_review", "limit": "2"})
    rest = world.board.get(
        f"/companies/{world.company_id}/issues",
        params={"status": "in_review", "limit": "2", "nextCursor": first.headers["X-Next-Cursor"]},
    )

    assert len(json_of(first)) == 2
    assert len(json_of(rest)) == 1
    assert "X-Next-Cursor" not in rest.headers
    assert {item["id"] for item in first.json() + rest.json()} == set(wanted)


def test_an_issue_is_found_by_its_identifier_in_any_case(world: World, other_world: World) -> None:
    issue_id = issue_of(world)
    identifier = issue(world, issue_id)["identifier"]

    for written in (identifier, identifier.lower(), identifier.title()):
        assert json_of(world.alpha.get(f"/issues/{written}"))["id"] == issue_id
    assert json_of(checkout(world.alpha, identifier.lower(), world.alpha_id))["id"] == issue_id
    assert world.board.get(f"/issues/{identifier.split('-')[0]}-99999").status_code == 404
    assert other_world.board.get(f"/issues/{identifier}").status_code == 404


# --- checkout and release -------------------------------------------------------------------------------------


def test_checkout_makes_the_issue_mine_and_in_progress(world: World) -> None:
    issue_id = issue_of(world)

    taken = json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1.upper())))

    assert (taken["status"], taken["assigneeAgentId"]) == ("in_progress", world.alpha_id)
    assert (taken["checkoutRunId"], taken["executionRunId"]) == (RUN_1, RUN_1)
    assert taken["startedAt"] == taken["updatedAt"]
    assert issue(world, issue_id) == taken


def test_checking_out_what_i_hold_again_is_a_no_op(world: World) -> None:
    issue_id = issue_of(world)
    first = json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1)))

    again = checkout(world.alpha, issue_id, world.alpha_id, ["todo"], headers=run_header(RUN_1))

    assert again.status_code == 200, again.text
    assert again.json() == first


def test_an_issue_held_by_another_agent_or_run_is_a_conflict(world: World) -> None:
    issue_id = issue_of(world)
    json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1)))
    expected = {
        "error": "Issue checkout conflict",
        "details": {
            "issueId": issue_id,
            "status": "in_progress",
            "assigneeAgentId": world.alpha_id,
            "checkoutRunId": RUN_1,
            "executionRunId": RUN_1,
        },
    }

    by_bravo = checkout(world.bravo, issue_id, world.bravo_id, ["todo", "in_progress"])
    by_other_run = checkout(world.alpha, issue_id, world.alpha_id, ["in_progress"], headers=run_header(RUN_2))

    assert (by_bravo.status_code, by_bravo.json()) == (409, expected)
    assert (by_other_run.status_code, by_other_run.json()) == (409, expected)
    assert issue(world, issue_id)["checkoutRunId"] == RUN_1


def test_an_issue_in_an_unexpected_status_is_a_conflict(world: World) -> None:
    issue_id = issue_of(world)
    done = issue_of(world)
    json_of(world.board.patch(f"/issues/{done}", {"status": "done"}))

    wrong = checkout(world.alpha, issue_id, world.alpha_id, ["in_review"])
    closed = checkout(world.alpha, done, world.alpha_id, ["done"])

    assert (wrong.status_code, wrong.json()["details"]["status"]) == (409, "todo")
    assert (closed.status_code, closed.json()["details"]["status"]) == (409, "done")
    assert issue(world, done)["status"] == "done"


def test_checkout_is_for_oneself_and_ones_company(world: World, other_world: World) -> None:
    issue_id = issue_of(world)
    json_of(world.board.patch(f"/agents/{world.bravo_id}", {"status": "terminated"}))

    as_bravo = checkout(world.alpha, issue_id, world.bravo_id)
    foreign_agent = checkout(other_world.alpha, issue_id, other_world.alpha_id)
    foreign_assignee = checkout(world.board, issue_id, other_world.alpha_id)
    terminated = checkout(world.board, issue_id, world.bravo_id)
    unknown_agent = checkout(world.board, issue_id, UNKNOWN_ID)

    assert (as_bravo.status_code, as_bravo.json()) == (403, {"error": "Agent can only checkout as itself"})
    assert foreign_agent.status_code == 403
    assert (foreign_assignee.status_code, foreign_assignee.json()["error"]) == (
        422,
        "Assignee must belong to same company",
    )
    assert terminated.status_code == 409
    assert unknown_agent.status_code == 404
    assert issue(world, issue_id)["status"] == "todo"


def test_the_board_checks_an_issue_out_for_its_assignee_or_anyone_when_unassigned(world: World) -> None:
    assigned, released = issue_of(world), issue_of(world)
    json_of(world.alpha.post(f"/issues/{released}/release"))

    for_alpha = json_of(checkout(world.board, assigned, world.alpha_id, headers=run_header(RUN_1)))
    for_bravo = json_of(checkout(world.board, released, world.bravo_id))

    assert (for_alpha["assigneeAgentId"], for_alpha["checkoutRunId"]) == (world.alpha_id, RUN_1)
    assert (for_bravo["assigneeAgentId"], for_bravo["checkoutRunId"], for_bravo["status"]) == (
        world.bravo_id,
        None,
        "in_progress",
    )
    assert checkout(world.board, assigned, world.bravo_id, ["in_progress"]).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"expectedStatuses": ["todo"]},
        {"agentId": "alpha", "expectedStatuses": ["todo"]},
        {"agentId": UNKNOWN_ID, "expectedStatuses": []},
        {"agentId": UNKNOWN_ID, "expectedStatuses": ["started"]},
        {"agentId": UNKNOWN_ID, "expectedStatuses": "todo"},
        {"agentId": UNKNOWN_ID},
    ],
)
def test_a_malformed_checkout_is_a_400(world: World, body: dict[str, Any]) -> None:
    issue_id = issue_of(world)

    response = world.alpha.post(f"/issues/{issue_id}/checkout", body)

    assert (response.status_code, response.json()["error"]) == (400, "Validation error")
    assert issue(world, issue_id)["status"] == "todo"


@pytest.mark.parametrize("issue_id", [UNKNOWN_ID, "nope", "ZZZ-1"])
@pytest.mark.parametrize("action", ["checkout", "release", "comments", "heartbeat-context"])
def test_every_issue_route_answers_404_for_an_unknown_issue(world: World, issue_id: str, action: str) -> None:
    path = f"/issues/{issue_id}/{action}"
    body = {"checkout": {"agentId": world.alpha_id, "expectedStatuses": ["todo"]}, "comments": {"body": "hi"}}
    response = world.alpha.get(path) if action == "heartbeat-context" else world.alpha.post(path, body.get(action))

    assert (response.status_code, response.json()) == (404, {"error": "Issue not found"})


def test_a_malformed_run_id_is_a_400(world: World) -> None:
    issue_id = issue_of(world)

    response = checkout(world.alpha, issue_id, world.alpha_id, headers=run_header("run-1"))

    assert (response.status_code, response.json()) == (400, {"error": "X-Paperclip-Run-Id must be a UUID"})
    assert issue(world, issue_id)["status"] == "todo"


def test_release_gives_the_issue_back(world: World) -> None:
    issue_id = issue_of(world)
    json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1)))

    not_mine = world.bravo.post(f"/issues/{issue_id}/release")
    other_run = world.alpha.post(f"/issues/{issue_id}/release", headers=run_header(RUN_2))
    released = json_of(world.alpha.post(f"/issues/{issue_id}/release", headers=run_header(RUN_1)))

    assert (not_mine.status_code, not_mine.json()) == (409, {"error": "Only assignee can release issue"})
    assert (other_run.status_code, other_run.json()["error"]) == (409, "Only checkout run can release issue")
    assert (released["status"], released["assigneeAgentId"], released["checkoutRunId"]) == ("todo", None, None)
    assert released["executionRunId"] is None
    assert released["startedAt"] is not None
    assert json_of(checkout(world.bravo, issue_id, world.bravo_id))["assigneeAgentId"] == world.bravo_id


# --- comments -------------------------------------------------------------------------------------------------


def comment(client: Client, issue_id: str, body: str, **kw: Any) -> dict[str, Any]:
    return dict(json_of(client.post(f"/issues/{issue_id}/comments", {"body": body}, **kw), 201))


def test_comments_are_written_and_listed_both_ways(world: World) -> None:
    issue_id = issue_of(world)
    first = comment(world.alpha, issue_id, "Looking into it\\nstep 1", headers=run_header(RUN_1))
    second = comment(world.board, issue_id, "Thanks")
    third = comment(world.bravo, issue_id, "Me too")

    def ids(**params: str) -> list[str]:
        return [c["id"] for c in json_of(world.alpha.get(f"/issues/{issue_id}/comments", params=params))]

    assert first["body"] == "Looking into it\nstep 1"
    assert (first["authorType"], first["authorAgentId"], first["createdByRunId"]) == ("agent", world.alpha_id, RUN_1)
    assert (second["authorType"], second["authorAgentId"], second["createdByRunId"]) == ("user", None, None)
    assert (first["issueId"], first["companyId"]) == (issue_id, world.company_id)
    assert ids() == [third["id"], second["id"], first["id"]]
    assert ids(order="asc") == [first["id"], second["id"], third["id"]]
    assert ids(order="asc", after=first["id"]) == [second["id"], third["id"]]
    assert ids(afterCommentId=third["id"]) == [second["id"], first["id"]]
    assert ids(after=UNKNOWN_ID) == []
    assert ids(after="nope") == []
    assert ids(limit="2") == [third["id"], second["id"]]
    assert ids(limit="zero") == ids()
    assert json_of(world.alpha.get(f"/issues/{issue_id}/comments/{second['id']}")) == second


def test_a_comment_is_found_only_under_its_issue(world: World) -> None:
    issue_id, other_issue = issue_of(world), issue_of(world)
    written = comment(world.alpha, issue_id, "Here")

    for path in (f"/issues/{other_issue}/comments/{written['id']}", f"/issues/{issue_id}/comments/nope"):
        response = world.alpha.get(path)
        assert (response.status_code, response.json()) == (404, {"error": "Comment not found"})


@pytest.mark.parametrize(
    "body",
    [{}, {"body": ""}, {"body": "  \n "}, {"body": "x" * 20_001}, {"body": 7}, {"body": "ok", "authorType": "x"}],
    ids=["missing", "empty", "blank", "oversized", "number", "unknown key"],
)
def test_a_malformed_comment_is_a_400(world: World, body: dict[str, Any]) -> None:
    issue_id = issue_of(world)

    response = world.alpha.post(f"/issues/{issue_id}/comments", body)

    assert (response.status_code, response.json()["error"]) == (400, "Validation error")
    assert json_of(world.alpha.get(f"/issues/{issue_id}/comments")) == []


def test_comments_of_another_company_are_hidden(world: World, other_world: World) -> None:
    issue_id = issue_of(world)
    written = comment(world.alpha, issue_id, "Private")

    assert other_world.alpha.post(f"/issues/{issue_id}/comments", {"body": "Hi"}).status_code == 403
    assert other_world.board.get(f"/issues/{issue_id}/comments").status_code == 403
    assert other_world.alpha.get(f"/issues/{issue_id}/comments/{written['id']}").status_code == 403
    assert other_world.alpha.get(f"/issues/{issue_id}/heartbeat-context").status_code == 403
    assert other_world.alpha.post(f"/issues/{issue_id}/release").status_code == 403


def test_a_patch_writes_its_comment_with_the_change(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    issue_id = run["linkedIssueId"]

    response = world.alpha.patch(f"/issues/{issue_id}", {"status": "done", "comment": "Shipped"})

    closed = json_of(response)
    assert closed["status"] == "done"
    assert (closed["comment"]["body"], closed["comment"]["createdAt"]) == ("Shipped", closed["updatedAt"])
    assert json_of(world.board.get(f"/issues/{issue_id}/comments")) == [closed["comment"]]
    assert run_of(world, routine["id"], run["id"])["status"] == "completed"
    assert "comment" not in json_of(world.board.patch(f"/issues/{issue_id}", {"title": "Renamed"}))


def test_a_refused_patch_writes_no_comment(world: World) -> None:
    issue_id = issue_of(world)

    refused = world.bravo.patch(f"/issues/{issue_id}", {"status": "done", "comment": "Not mine"})
    empty = world.alpha.patch(f"/issues/{issue_id}", {"status": "done", "comment": ""})

    assert (refused.status_code, empty.status_code) == (403, 400)
    assert issue(world, issue_id)["status"] == "todo"
    assert json_of(world.board.get(f"/issues/{issue_id}/comments")) == []


# --- heartbeat context ----------------------------------------------------------------------------------------


def test_the_heartbeat_context_says_what_fired_the_issue(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"], {"source": "api", "payload": {"ticket": "T-7"}})
    issue_id = run["linkedIssueId"]
    comment(world.alpha, issue_id, "One")
    latest = comment(world.alpha, issue_id, "Two")

    context = json_of(world.alpha.get(f"/issues/{issue_id}/heartbeat-context", params={"wakeCommentId": latest["id"]}))

    assert context["issue"]["id"] == issue_id
    assert (context["issue"]["originKind"], context["issue"]["originId"]) == ("routine_execution", routine["id"])
    assert context["routine"]["id"] == routine["id"]
    assert context["run"]["id"] == run["id"]
    assert context["run"]["triggerPayload"] == {"ticket": "T-7"}
    assert "scheduledFor" in context["run"]
    assert context["project"] == {"id": world.project_id, "name": "Ops", "status": "active", "targetDate": None}
    assert context["goal"] is None
    assert context["commentCursor"] == {
        "totalComments": 2,
        "latestCommentId": latest["id"],
        "latestCommentAt": latest["createdAt"],
    }
    assert context["wakeComment"] == latest
    assert (context["ancestors"], context["attachments"]) == ([], [])


def test_a_fresh_issue_has_an_empty_comment_cursor(world: World) -> None:
    context = json_of(world.alpha.get(f"/issues/{issue_of(world)}/heartbeat-context"))

    assert context["commentCursor"] == {"totalComments": 0, "latestCommentId": None, "latestCommentAt": None}
    assert context["wakeComment"] is None


# --- status rules and the run ---------------------------------------------------------------------------------


def test_status_changes_stamp_the_issue(world: World) -> None:
    issue_id = issue_of(world)
    json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1)))

    review = json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "in_review"}, headers=run_header(RUN_1)))
    done = json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "done"}))
    cancelled = json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "cancelled"}))
    reopened = json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "in_progress"}))

    assert (review["checkoutRunId"], review["executionRunId"]) == (None, None)
    assert (done["completedAt"], done["cancelledAt"]) == (done["updatedAt"], None)
    assert (cancelled["completedAt"], cancelled["cancelledAt"]) == (None, cancelled["updatedAt"])
    assert (reopened["completedAt"], reopened["cancelledAt"]) == (None, None)
    assert reopened["startedAt"] == reopened["updatedAt"]


def test_an_agent_edits_its_checked_out_issue_only_from_its_run(world: World) -> None:
    issue_id = issue_of(world)
    json_of(checkout(world.alpha, issue_id, world.alpha_id, headers=run_header(RUN_1)))

    other_run = world.alpha.patch(f"/issues/{issue_id}", {"status": "done"}, headers=run_header(RUN_2))

    assert (other_run.status_code, other_run.json()["error"]) == (409, "Issue run ownership conflict")
    assert other_run.json()["details"]["actorRunId"] == RUN_2
    assert json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "done"}, headers=run_header(RUN_1)))


def test_in_progress_needs_an_assignee(world: World) -> None:
    issue_id = issue_of(world)
    json_of(world.alpha.post(f"/issues/{issue_id}/release"))

    response = world.board.patch(f"/issues/{issue_id}", {"status": "in_progress"})

    assert (response.status_code, response.json()) == (422, {"error": "in_progress issues require an assignee"})


def test_blocked_fails_the_run_until_the_issue_moves_on(world: World) -> None:
    routine = world.routine()
    run = fire(world, routine["id"])
    issue_id = run["linkedIssueId"]

    blocked = json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "blocked", "comment": "Waiting on creds"}))
    failed = run_of(world, routine["id"], run["id"])
    json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "todo"}))
    reverted = run_of(world, routine["id"], run["id"])

    assert (failed["status"], failed["failureReason"]) == ("failed", "Execution issue moved to blocked")
    assert failed["completedAt"] == blocked["updatedAt"]
    assert (reverted["status"], reverted["failureReason"], reverted["completedAt"]) == ("issue_created", None, None)
    assert fire(world, routine["id"])["status"] == "coalesced"  # blocked or not, the issue stayed open


@pytest.mark.parametrize(("policy", "outcome"), [("coalesce_if_active", "coalesced"), ("skip_if_active", "skipped")])
def test_later_firings_go_to_the_newest_open_issue_after_a_reopen(world: World, policy: str, outcome: str) -> None:
    routine = world.routine(concurrencyPolicy=policy)
    older = fire(world, routine["id"])
    json_of(world.alpha.patch(f"/issues/{older['linkedIssueId']}", {"status": "done"}))
    newer = fire(world, routine["id"])

    reopened = world.alpha.patch(f"/issues/{older['linkedIssueId']}", {"status": "todo"})
    later = fire(world, routine["id"])

    assert reopened.status_code == 200, reopened.text
    assert (later["status"], later["linkedIssueId"]) == (outcome, newer["linkedIssueId"])
    detail = json_of(world.board.get(f"/routines/{routine['id']}"))
    assert detail["activeIssue"]["id"] == newer["linkedIssueId"]
    json_of(world.alpha.patch(f"/issues/{newer['linkedIssueId']}", {"status": "done"}))
    assert fire(world, routine["id"])["linkedIssueId"] == older["linkedIssueId"]


# --- the whole loop -------------------------------------------------------------------------------------------


def test_an_agent_loop_written_against_the_skill_works_end_to_end(world: World) -> None:
    routine = world.routine(concurrencyPolicy="skip_if_active")
    run = fire(world, routine["id"])
    me = json_of(world.alpha.get("/agents/me"))
    inbox = json_of(world.alpha.get("/agents/me/inbox-lite"))
    issue_id = inbox[0]["id"]
    query = {"assigneeAgentId": me["id"], "status": "todo,in_progress,in_review,blocked"}
    assert [item["id"] for item in inbox] == listed(world, **query) == [run["linkedIssueId"]]

    headers = run_header(RUN_1)
    assert json_of(checkout(world.alpha, issue_id, me["id"], headers=headers))["status"] == "in_progress"
    assert checkout(world.bravo, issue_id, world.bravo_id).status_code == 409
    json_of(world.alpha.get(f"/issues/{issue_id}/heartbeat-context", headers=headers))
    comment(world.alpha, issue_id, "Working on it", headers=headers)
    json_of(world.alpha.patch(f"/issues/{issue_id}", {"status": "done", "comment": "Done"}, headers=headers))

    assert run_of(world, routine["id"], run["id"])["status"] == "completed"
    assert json_of(world.alpha.get("/agents/me/inbox-lite")) == []
    following = fire(world, routine["id"])
    assert following["status"] == "issue_created"
    assert [item["id"] for item in json_of(world.alpha.get("/agents/me/inbox-lite"))] == [following["linkedIssueId"]]
