"""Checkout under real concurrency: agents racing for one issue through the API server get exactly one 200."""

from collections import Counter

import requests

from tests.concurrency.test_exactly_once import all_at_once
from tests.support import World, json_of

RACERS = 10


def agent_keys(world: World, count: int) -> list[tuple[str, str]]:
    """`count` new agents of the world's company, each with its key."""
    made = []
    for n in range(count):
        agent = json_of(world.board.post(f"/companies/{world.company_id}/agents", {"name": f"Racer {n}"}), 201)
        key = json_of(world.board.post(f"/agents/{agent['id']}/keys", {}), 201)["token"]
        made.append((agent["id"], key))
    return made


def unassigned_issue(world: World) -> str:
    run = json_of(world.board.post(f"/routines/{world.routine()['id']}/run", {}), 202)
    issue = json_of(world.board.post(f"/issues/{run['linkedIssueId']}/checkout", checkout_body(world.alpha_id)))
    json_of(world.board.post(f"/issues/{issue['id']}/release"))
    return str(issue["id"])


def checkout_body(agent_id: str) -> dict[str, object]:
    return {"agentId": agent_id, "expectedStatuses": ["todo"]}


def test_ten_agents_racing_for_one_issue_get_exactly_one_checkout(world: World) -> None:
    racers = agent_keys(world, RACERS)
    issue_id = unassigned_issue(world)

    def race(session: requests.Session, i: int) -> tuple[int, str]:
        agent_id, key = racers[i]
        response = session.post(
            f"{world.base}/issues/{issue_id}/checkout",
            json=checkout_body(agent_id),
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        return response.status_code, agent_id

    results = all_at_once(world, RACERS, race)

    assert Counter(status for status, _ in results) == {200: 1, 409: RACERS - 1}
    winner = next(agent_id for status, agent_id in results if status == 200)
    stored = json_of(world.board.get(f"/issues/{issue_id}"))
    assert (stored["status"], stored["assigneeAgentId"]) == ("in_progress", winner)


def test_runs_of_one_agent_racing_for_one_issue_get_exactly_one_checkout(world: World) -> None:
    issue_id = unassigned_issue(world)
    run_ids = [f"0190cccc-0000-7000-8000-{n:012d}" for n in range(RACERS)]

    def race(session: requests.Session, i: int) -> int:
        response = session.post(
            f"{world.base}/issues/{issue_id}/checkout",
            json=checkout_body(world.alpha_id),
            headers={"Authorization": f"Bearer {world.alpha.key}", "X-Paperclip-Run-Id": run_ids[i]},
            timeout=60,
        )
        return response.status_code

    results = all_at_once(world, RACERS, race)

    assert Counter(results) == {200: 1, 409: RACERS - 1}
    winner = run_ids[results.index(200)]
    assert json_of(world.board.get(f"/issues/{issue_id}"))["checkoutRunId"] == winner
