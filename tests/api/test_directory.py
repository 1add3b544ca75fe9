"""Companies, agents, projects, goals and agent keys: operated by board keys, readable by agents."""

from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.services import directory
from tests.support import Client, World

UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"
MALFORMED_IDS = ["nope", "01900000-0000-7000-8000-00000000000", "01900000-0000-7000-8000-00000000000Z"]


@pytest.fixture
def root(world: World) -> Client:
    """A board key for all companies: the only kind that may create companies."""
    return Client(world.base, directory.create_board_key(None, "root", runtime.now()))


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# Companies


def test_an_all_companies_board_key_creates_and_lists_companies(root: Client) -> None:
    created = root.post("/companies", {"name": "Initech", "issuePrefix": "INI"})
    assert created.status_code == 201, created.text
    company = created.json()
    assert company["name"] == "Initech"
    assert company["issuePrefix"] == "INI"
    assert company["id"] in _ids(root.get("/companies"))


def test_a_company_without_prefix_gets_one_from_its_name(root: Client) -> None:
    created = root.post("/companies", {"name": "  Umbrella corp  "})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Umbrella corp"
    assert created.json()["issuePrefix"] == "UMB"


@pytest.mark.parametrize("actor", ["board", "alpha"])
def test_only_an_all_companies_board_key_creates_companies(world: World, root: Client, actor: str) -> None:
    client: Client = getattr(world, actor)
    before = _ids(root.get("/companies"))
    response = client.post("/companies", {"name": "Sneaky"})
    assert response.status_code == 403
    assert "error" in response.json()
    assert _ids(root.get("/companies")) == before


def test_creating_a_company_without_a_key_is_401(world: World) -> None:
    assert world.anonymous.post("/companies", {"name": "Nobody"}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": 5}, {"name": "Ok", "issuePrefix": "lower"}, {"name": "Ok", "extra": 1}],
)
def test_a_company_with_a_bad_body_is_400(root: Client, body: dict[str, Any]) -> None:
    response = root.post("/companies", body)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"


@pytest.mark.parametrize("actor", ["board", "alpha", "bravo"])
def test_a_scoped_key_lists_only_its_own_company(world: World, other_world: World, actor: str) -> None:
    assert _ids(getattr(world, actor).get("/companies")) == [world.company_id]


# Agents


def test_a_board_key_creates_and_lists_agents(world: World) -> None:
    created = world.board.post(f"/companies/{world.company_id}/agents", {"name": "Charlie", "role": "qa"})
    assert created.status_code == 201, created.text
    agent = created.json()
    assert (agent["name"], agent["role"], agent["status"], agent["companyId"]) == (
        "Charlie",
        "qa",
        "active",
        world.company_id,
    )
    listed = _ids(world.alpha.get(f"/companies/{world.company_id}/agents"))
    assert listed == [world.alpha_id, world.bravo_id, agent["id"]]


def test_an_agent_cannot_create_agents(world: World) -> None:
    response = world.alpha.post(f"/companies/{world.company_id}/agents", {"name": "Mole"})
    assert response.status_code == 403
    assert len(_ids(world.board.get(f"/companies/{world.company_id}/agents"))) == 2


def test_a_board_key_cannot_create_agents_in_another_company(world: World, other_world: World) -> None:
    response = world.board.post(f"/companies/{other_world.company_id}/agents", {"name": "Mole"})
    assert response.status_code == 403
    assert len(_ids(other_world.board.get(f"/companies/{other_world.company_id}/agents"))) == 2


def test_another_companys_agents_are_not_listed(world: World, other_world: World) -> None:
    assert world.alpha.get(f"/companies/{other_world.company_id}/agents").status_code == 403


@pytest.mark.parametrize("company_id", [UNKNOWN_ID, *MALFORMED_IDS])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_agents_of_an_unknown_company_are_404(root: Client, company_id: str, method: str) -> None:
    response = root.request(method, f"/companies/{company_id}/agents", {"name": "Ghost"})
    assert response.status_code == 404
    assert response.json() == {"error": "Company not found"}


@pytest.mark.parametrize("status", ["paused", "terminated", "pending_approval", "active"])
def test_a_board_key_sets_an_agents_status(world: World, status: str) -> None:
    response = world.board.patch(f"/agents/{world.bravo_id}", {"status": status})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status
    listed = world.board.get(f"/companies/{world.company_id}/agents").json()
    assert next(a["status"] for a in listed if a["id"] == world.bravo_id) == status


@pytest.mark.parametrize("body", [{"status": "retired"}, {"status": None}, {}, {"status": 1}, {"name": "x"}])
def test_an_agent_status_outside_the_enum_is_400(world: World, body: dict[str, Any]) -> None:
    response = world.board.patch(f"/agents/{world.bravo_id}", body)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
    assert _agent_status(world, world.bravo_id) == "active"


def _agent_status(world: World, agent_id: str) -> str:
    listed = world.board.get(f"/companies/{world.company_id}/agents").json()
    return str(next(a["status"] for a in listed if a["id"] == agent_id))


def test_an_agent_cannot_change_agent_statuses(world: World) -> None:
    response = world.alpha.patch(f"/agents/{world.alpha_id}", {"status": "paused"})
    assert response.status_code == 403
    assert _agent_status(world, world.alpha_id) == "active"


def test_a_board_key_cannot_change_another_companys_agent(world: World, other_world: World) -> None:
    response = world.board.patch(f"/agents/{other_world.alpha_id}", {"status": "terminated"})
    assert response.status_code == 403
    assert _agent_status(other_world, other_world.alpha_id) == "active"


@pytest.mark.parametrize("agent_id", [UNKNOWN_ID, *MALFORMED_IDS])
def test_patching_an_unknown_agent_is_404(world: World, agent_id: str) -> None:
    response = world.board.patch(f"/agents/{agent_id}", {"status": "paused"})
    assert response.status_code == 404
    assert response.json() == {"error": "Agent not found"}


def test_a_project_id_is_not_an_agent(world: World) -> None:
    assert world.board.patch(f"/agents/{world.project_id}", {"status": "paused"}).status_code == 404


# Agent keys


def test_a_new_agent_key_is_shown_once_and_then_works(world: World) -> None:
    response = world.board.post(f"/agents/{world.bravo_id}/keys", {"label": "laptop"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["agentId"], body["companyId"], body["label"]) == (world.bravo_id, world.company_id, "laptop")
    token = body["token"]
    assert token.startswith("rk_agent_")
    agents = world.board.get(f"/companies/{world.company_id}/agents")
    assert token not in agents.text
    client = Client(world.base, token)
    assert client.get(f"/companies/{world.company_id}/routines").status_code == 200
    mine = world.routine(client, assigneeAgentId=world.bravo_id)
    assert mine["createdByAgentId"] == world.bravo_id


def test_an_agent_cannot_create_keys(world: World) -> None:
    assert world.alpha.post(f"/agents/{world.alpha_id}/keys", {}).status_code == 403


def test_a_board_key_cannot_create_keys_for_another_companys_agent(world: World, other_world: World) -> None:
    assert world.board.post(f"/agents/{other_world.alpha_id}/keys", {}).status_code == 403


@pytest.mark.parametrize("agent_id", [UNKNOWN_ID, *MALFORMED_IDS])
def test_a_key_for_an_unknown_agent_is_404(world: World, agent_id: str) -> None:
    assert world.board.post(f"/agents/{agent_id}/keys", {}).status_code == 404


def test_a_key_label_over_120_characters_is_400(world: World) -> None:
    response = world.board.post(f"/agents/{world.alpha_id}/keys", {"label": "x" * 121})
    assert response.status_code == 400


# Projects and goals


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("projects", {"name": "Infra", "description": "Servers"}, "name"),
        ("goals", {"title": "Ship it", "description": "By Friday"}, "title"),
    ],
)
def test_a_board_key_creates_and_everyone_in_the_company_lists(
    world: World, kind: str, body: dict[str, Any], field: str
) -> None:
    created = world.board.post(f"/companies/{world.company_id}/{kind}", body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item[field], item["description"], item["companyId"]) == (body[field], body["description"], world.company_id)
    for client in (world.board, world.alpha, world.bravo):
        assert item["id"] in _ids(client.get(f"/companies/{world.company_id}/{kind}"))


@pytest.mark.parametrize("kind", ["projects", "goals"])
def test_an_agent_cannot_create_projects_or_goals(world: World, kind: str) -> None:
    before = _ids(world.board.get(f"/companies/{world.company_id}/{kind}"))
    response = world.alpha.post(f"/companies/{world.company_id}/{kind}", {"name": "X", "title": "X"})
    assert response.status_code == 403
    assert _ids(world.board.get(f"/companies/{world.company_id}/{kind}")) == before


@pytest.mark.parametrize("kind", ["projects", "goals"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_projects_and_goals_of_another_company_are_403(
    world: World, other_world: World, kind: str, method: str
) -> None:
    response = world.board.request(method, f"/companies/{other_world.company_id}/{kind}", {"name": "X", "title": "X"})
    assert response.status_code == 403


@pytest.mark.parametrize("company_id", [UNKNOWN_ID, *MALFORMED_IDS])
@pytest.mark.parametrize("kind", ["projects", "goals"])
def test_projects_and_goals_of_an_unknown_company_are_404(root: Client, company_id: str, kind: str) -> None:
    assert root.get(f"/companies/{company_id}/{kind}").status_code == 404
    assert root.post(f"/companies/{company_id}/{kind}", {"name": "X", "title": "X"}).status_code == 404


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("projects", {}),
        ("projects", {"name": "   "}),
        ("projects", {"name": ["list"]}),
        ("goals", {"name": "wrong field"}),
        ("goals", {"title": "x" * 201}),
    ],
)
def test_a_project_or_goal_with_a_bad_body_is_400(world: World, kind: str, body: dict[str, Any]) -> None:
    response = world.board.post(f"/companies/{world.company_id}/{kind}", body)
    assert response.status_code == 400
    assert response.json()["error"] == "Validation error"
