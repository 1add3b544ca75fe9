"""Fuzzing from the served OpenAPI document: no 5xx, and every response is one the document describes.

Each principal (a board key, an agent key) fuzzes a company of its own, whose real ids replace the generated
path parameters half of the time, so the fuzzer reaches existing resources as well as missing ones.
Generation is derandomized and bounded: the same cases every run, about a minute for both principals.
"""

from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import World, build_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# A schema-valid body may still name what does not exist or cannot be (a bad cron, an archived routine),
# but it is never a 400: the document and the validators agree.
ACCEPTED = ["2xx", "401", "403", "404", "409", "422"]
# The board key also walks each operation's boundary values (the coverage phase, positive cases only:
# the fuzzing phase sends malformed ones); the agent key, whose interest is authorization, only fuzzes.
BOARD_PHASES = {
    "stateful": {"enabled": False},
    "coverage": {"unexpected-methods": [], "generation": {"mode": "positive"}},
}
AGENT_PHASES = {"stateful": {"enabled": False}, "coverage": {"enabled": False}}


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy loader reads `Node._nodeid`, which pytest 9.2 no longer has.
    request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module")
def board_api(api_url: str) -> Any:
    world = build_world(api_url, "Fuzz Board")
    return fuzzing_schema(api_url, world, world.board.key, examples=15, phases=BOARD_PHASES)


@pytest.fixture(scope="module")
def agent_api(api_url: str) -> Any:
    world = build_world(api_url, "Fuzz Agent")
    return fuzzing_schema(api_url, world, world.alpha.key, examples=10, phases=AGENT_PHASES)


board = schemathesis.pytest.from_fixture("board_api")
agent = schemathesis.pytest.from_fixture("agent_api")


@board.parametrize()
def test_a_board_key_cannot_break_the_contract(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


@agent.parametrize()
def test_an_agent_key_cannot_break_the_contract(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


def fuzzing_schema(api_url: str, world: World, key: str | None, examples: int, phases: dict[str, Any]) -> Any:
    """The served document, configured to call as `key` and to mix the world's real ids into the paths."""
    ids, doomed, webhook_secret = real_ids(world)
    config = schemathesis.Config.from_dict(
        {
            # Auth comes from `auth` below, never mangled: a 401 would only spend the budget.
            "generation": {
                "deterministic": True,
                "max-examples": examples,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": phases,
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            "auth": {"openapi": {"apiKey": {"bearer": key}, "webhookSecret": {"bearer": webhook_secret}}},
            "dictionaries": {name: {"values": values} for name, values in {**ids, "doomed": doomed}.items()},
            "parameters": {f"path.{name}": {"dictionary": name, "probability": 0.5} for name in ids},
            "operations": [
                {
                    "include-operation-id": "delete_trigger",
                    "parameters": {"path.triggerId": {"dictionary": "doomed", "probability": 0.5}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json", config=config)
    return schema


def real_ids(world: World) -> tuple[dict[str, list[str]], list[str], str]:
    """Ids of a routine with every kind of trigger and an open issue, triggers to delete, a webhook's secret.

    Deletion gets triggers of its own, and the webhook delivered to belongs to a routine no other operation
    reaches, so what one operation destroys or pauses does not hide the rest.
    """
    routine_id = world.routine()["id"]
    kinds = ({"kind": "schedule", "cronExpression": "*/5 * * * *"}, {"kind": "webhook"}, {"kind": "api"})
    trigger_ids = [world.trigger(routine_id, **fields)["trigger"]["id"] for fields in kinds]
    doomed = [world.trigger(routine_id, kind="api")["trigger"]["id"] for _ in range(2)]
    issue_id = world.alpha.post(f"/routines/{routine_id}/run", {}).json()["linkedIssueId"]
    delivered = world.trigger(world.routine(assigneeAgentId=world.bravo_id)["id"], kind="webhook")
    ids = {
        "companyId": [world.company_id],
        "agentId": [world.alpha_id],
        "routineId": [routine_id],
        "triggerId": trigger_ids,
        "issueId": [issue_id],
        "publicId": [delivered["trigger"]["publicId"]],
    }
    return ids, doomed, delivered["secretMaterial"]["webhookSecret"]
