"""Agents with an HTTP adapter: their config, the wake secret shown once, and bad configs refused with a 400."""

from typing import Any

import pytest

from tests.support import World, json_of

CONFIG = {
    "url": "https://agent.example/wake",
    "headers": {"Authorization": "Bearer very-secret", "X-Team": "ops"},
    "payloadTemplate": {"kind": "wake"},
}


def create(world: World, **fields: Any) -> Any:
    return world.board.post(f"/companies/{world.company_id}/agents", {"name": "Hooky", **fields})


def test_an_http_agent_is_created_with_its_defaults_and_a_wake_secret_shown_once(world: World) -> None:
    agent = json_of(create(world, adapterType="http", adapterConfig=CONFIG), 201)
    assert agent["adapterType"] == "http"
    assert agent["adapterConfig"] == {
        "url": CONFIG["url"],
        "method": "POST",
        "headers": {"Authorization": "***", "X-Team": "***"},
        "payloadTemplate": {"kind": "wake"},
        "timeoutMs": 10_000,
    }
    assert len(agent["wakeSecret"]) >= 32
    listed = json_of(world.board.get(f"/companies/{world.company_id}/agents"))
    [seen] = [a for a in listed if a["id"] == agent["id"]]
    assert "wakeSecret" not in seen
    assert "very-secret" not in str(listed)


def test_agents_without_an_adapter_have_none_and_no_secret(world: World) -> None:
    agent = json_of(create(world), 201)
    assert (agent["adapterType"], agent["adapterConfig"]) == (None, None)
    assert "wakeSecret" not in agent


def test_other_adapter_types_are_stored_as_sent_without_a_secret(world: World) -> None:
    agent = json_of(create(world, adapterType="claude_local", adapterConfig={"cwd": "/work"}), 201)
    assert (agent["adapterType"], agent["adapterConfig"]) == ("claude_local", {"cwd": "/work"})
    assert "wakeSecret" not in agent


def test_becoming_an_http_agent_makes_the_secret_once(world: World) -> None:
    path = f"/agents/{world.bravo_id}"
    first = json_of(world.board.patch(path, {"adapterType": "http", "adapterConfig": CONFIG}))
    assert first["adapterConfig"]["url"] == CONFIG["url"] and first["wakeSecret"]
    again = json_of(world.board.patch(path, {"adapterType": "http", "adapterConfig": {"url": "https://b.example/"}}))
    assert again["adapterConfig"]["url"] == "https://b.example/"
    assert "wakeSecret" not in again
    paused = json_of(world.board.patch(path, {"status": "paused"}))
    assert (paused["status"], paused["adapterType"]) == ("paused", "http")


def test_rotating_the_wake_secret_shows_a_new_one(world: World) -> None:
    made = json_of(create(world, adapterType="http", adapterConfig=CONFIG), 201)
    rotated = json_of(world.board.post(f"/agents/{made['id']}/wake-secret"), 201)
    assert rotated["wakeSecret"] and rotated["wakeSecret"] != made["wakeSecret"]


def test_only_http_agents_have_a_wake_secret_to_rotate(world: World) -> None:
    response = world.board.post(f"/agents/{world.alpha_id}/wake-secret")
    assert response.status_code == 409
    assert "http" in response.json()["error"]


def test_agents_cannot_change_adapters_or_rotate_secrets(world: World) -> None:
    assert (
        world.alpha.patch(f"/agents/{world.alpha_id}", {"adapterType": "http", "adapterConfig": CONFIG}).status_code
        == 403
    )
    assert world.alpha.post(f"/agents/{world.alpha_id}/wake-secret").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"adapterType": "http"},
        {"adapterType": "http", "adapterConfig": {}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "url": "ftp://agent.example/"}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "url": "http://user:pw@agent.example/"}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "method": "GET"}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "timeoutMs": 0}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "timeoutMs": 30_001}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "timeoutMs": "5"}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "headers": {"X-Bad": "a\r\nInjected: 1"}}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "headers": {"Bad Name": "x"}}},
        {"adapterType": "http", "adapterConfig": {**CONFIG, "extra": 1}},
        {"adapterType": "HTTP!", "adapterConfig": CONFIG},
    ],
)
def test_bad_adapters_are_400_and_change_nothing(world: World, body: dict[str, Any]) -> None:
    response = world.board.patch(f"/agents/{world.bravo_id}", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Validation error"
    created = create(world, **body)
    assert created.status_code == 400, created.text
    [bravo] = [
        a for a in json_of(world.board.get(f"/companies/{world.company_id}/agents")) if a["id"] == world.bravo_id
    ]
    assert bravo["adapterType"] is None


def test_a_config_sent_alone_is_checked_against_the_agents_type(world: World) -> None:
    made = json_of(create(world, adapterType="http", adapterConfig=CONFIG), 201)
    path = f"/agents/{made['id']}"
    refused = world.board.patch(path, {"adapterConfig": {"url": "ftp://agent.example/"}})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("adapterConfig.url")
    changed = json_of(world.board.patch(path, {"adapterConfig": {"url": "https://c.example/", "timeoutMs": 500}}))
    assert (changed["adapterType"], changed["adapterConfig"]["url"]) == ("http", "https://c.example/")
    assert (changed["adapterConfig"]["timeoutMs"], changed["adapterConfig"]["headers"]) == (500, {})
