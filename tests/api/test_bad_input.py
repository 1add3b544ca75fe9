"""Bad input on every route with a body or an id: a clear 4xx with `{"error": ...}`, never a 500, nothing written."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.services import directory
from tests.support import SESSION, Client, World

UNKNOWN_ID = "01900000-0000-7000-8000-000000000000"
MALFORMED_IDS = [
    "abc",
    "null",
    "%20",
    "a" * 3000,
    UNKNOWN_ID.upper(),
    UNKNOWN_ID[:-1],
    UNKNOWN_ID[:-1] + "g",
    UNKNOWN_ID.replace("-", ""),
    UNKNOWN_ID.replace("-", "_"),
]
MiB = 1024 * 1024


@dataclass
class Target:
    """A route taking a body, called as the board, and what its state looks like."""

    method: str
    path: Callable[[World], str]
    valid: dict[str, Any]
    state: Callable[[World], Any]


def _agents(world: World) -> Any:
    return world.board.get(f"/companies/{world.company_id}/agents").json()


def _routines(world: World) -> Any:
    return world.board.get(f"/companies/{world.company_id}/routines").json()


def _first_routine(world: World) -> str:
    return str(_routines(world)[0]["id"])


def _first_trigger(world: World) -> str:
    return str(_routines(world)[0]["triggers"][0]["id"])


def _runs(world: World) -> Any:
    return world.board.get(f"/routines/{_first_routine(world)}/runs").json()


TARGETS = {
    "create agent": Target("POST", lambda w: f"/companies/{w.company_id}/agents", {"name": "Dee"}, _agents),
    "update agent": Target("PATCH", lambda w: f"/agents/{w.bravo_id}", {"status": "paused"}, _agents),
    "create agent key": Target("POST", lambda w: f"/agents/{w.bravo_id}/keys", {"label": "x"}, lambda w: None),
    "create project": Target(
        "POST",
        lambda w: f"/companies/{w.company_id}/projects",
        {"name": "P"},
        lambda w: w.board.get(f"/companies/{w.company_id}/projects").json(),
    ),
    "create goal": Target(
        "POST",
        lambda w: f"/companies/{w.company_id}/goals",
        {"title": "G"},
        lambda w: w.board.get(f"/companies/{w.company_id}/goals").json(),
    ),
    "create routine": Target(
        "POST", lambda w: f"/companies/{w.company_id}/routines", {"title": "R"}, lambda w: len(_routines(w))
    ),
    "update routine": Target("PATCH", lambda w: f"/routines/{_first_routine(w)}", {"title": "New"}, _routines),
    "run routine": Target("POST", lambda w: f"/routines/{_first_routine(w)}/run", {}, _runs),
    "create trigger": Target("POST", lambda w: f"/routines/{_first_routine(w)}/triggers", {"kind": "api"}, _routines),
    "update trigger": Target("PATCH", lambda w: f"/routine-triggers/{_first_trigger(w)}", {"label": "x"}, _routines),
    "rotate secret": Target("POST", lambda w: f"/routine-triggers/{_first_trigger(w)}/rotate-secret", {}, _routines),
}


@pytest.fixture
def furnished(world: World) -> World:
    """The world with one routine holding one webhook trigger, so every target has something to act on."""
    routine = world.routine()
    world.trigger(routine["id"], kind="webhook")
    return world


def _send(world: World, target: Target, data: bytes, content_type: str = "application/json") -> Any:
    return SESSION.request(
        target.method,
        world.base + target.path(world),
        data=data,
        headers={"Authorization": f"Bearer {world.board.key}", "Content-Type": content_type},
        timeout=60,
    )


def _assert_refused(world: World, target: Target, before: Any, status: int, response: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str)
    assert target.state(world) == before
    return dict(body)


NOT_JSON = [b"{", b"{'title': 'x'}", b"title=x", b"\xff\xfe", b'{"title": "x"} trailing', b"NaN-ish"]
NOT_OBJECTS = [b"[]", b'[{"title": "x"}]', b'"text"', b"42", b"true", b"null"]


def _refusals(world: World, name: str, payloads: list[bytes], status: int) -> list[tuple[bytes, dict[str, Any]]]:
    """Sends each payload to the target, checks each is refused with `status` and writes nothing; returns the bodies."""
    target = TARGETS[name]
    before = target.state(world)
    return [(data, _assert_refused(world, target, before, status, _send(world, target, data))) for data in payloads]


@pytest.mark.parametrize("name", TARGETS)
def test_a_body_that_is_not_json_is_400(furnished: World, name: str) -> None:
    for data, body in _refusals(furnished, name, NOT_JSON, 400):
        assert body == {"error": "Request body is not valid JSON"}, data


@pytest.mark.parametrize("name", TARGETS)
def test_a_json_body_that_is_not_an_object_is_400(furnished: World, name: str) -> None:
    for data, body in _refusals(furnished, name, NOT_OBJECTS, 400):
        assert body["error"] == "Validation error", data
        assert isinstance(body["details"], list)


@pytest.mark.parametrize("name", TARGETS)
def test_a_body_over_1_mib_is_413(furnished: World, name: str) -> None:
    padded = b'{"padding": "' + b"x" * MiB + b'"}'
    _refusals(furnished, name, [padded], 413)


@pytest.mark.parametrize("name", TARGETS)
def test_a_body_that_is_not_declared_json_is_415(furnished: World, name: str) -> None:
    target = TARGETS[name]
    before = target.state(furnished)
    response = _send(furnished, target, b"{}", content_type="text/plain")
    assert response.status_code == 415
    assert target.state(furnished) == before


@pytest.mark.parametrize("name", TARGETS)
def test_the_valid_body_of_each_target_is_accepted(furnished: World, name: str) -> None:
    target = TARGETS[name]
    response = furnished.board.request(target.method, target.path(furnished), target.valid)
    assert response.status_code in (200, 201, 202), response.text


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("create agent", {"name": 5}),
        ("create agent", {"name": "A", "role": ["x"]}),
        ("update agent", {"status": ["paused"]}),
        ("create agent key", {"label": {"a": 1}}),
        ("create project", {"name": "P", "description": 1}),
        ("create goal", {"title": True}),
        ("create routine", {"title": "R", "description": ["x"]}),
        ("create routine", {"title": "R", "assigneeAgentId": 5}),
        ("create routine", {"title": "R", "projectId": "not-a-uuid"}),
        ("create routine", {"title": "R", "goalId": {}}),
        ("create routine", {"title": "R", "priority": 1}),
        ("create routine", {"title": "R", "status": True}),
        ("update routine", {"title": ["New"]}),
        ("update routine", {"parentIssueId": "123"}),
        ("update routine", {"concurrencyPolicy": None}),
        ("update routine", {"variables": []}),
        ("run routine", {"payload": [1, 2]}),
        ("run routine", {"payload": "text"}),
        ("run routine", {"idempotencyKey": 5}),
        ("run routine", {"idempotencyKey": "k" * 256}),
        ("run routine", {"idempotencyKey": "   "}),
        ("run routine", {"triggerId": "x"}),
        ("run routine", {"source": "schedule"}),
        ("run routine", {"source": "webhook"}),
        ("run routine", {"assignee": "someone"}),
        ("create trigger", {"kind": 1}),
        ("create trigger", {"kind": "webhook", "signingMode": 1}),
        ("create trigger", {"kind": "schedule", "cronExpression": ["0", "9"]}),
        ("create trigger", {"kind": "schedule", "cronExpression": "0 9 * * *", "timezone": 1}),
        ("update trigger", {"enabled": "false"}),
        ("update trigger", {"replayWindowSec": "600"}),
        ("update trigger", {"kind": "api"}),
        ("update trigger", {"publicId": "0" * 24}),
    ],
)
def test_a_field_of_the_wrong_type_is_400(furnished: World, name: str, body: dict[str, Any]) -> None:
    target = TARGETS[name]
    before = target.state(furnished)
    response = furnished.board.request(target.method, target.path(furnished), body)
    result = _assert_refused(furnished, target, before, 400, response)
    assert result["error"] == "Validation error"
    assert result["details"]


def test_a_validation_error_names_every_bad_field(world: World) -> None:
    response = world.board.post(
        f"/companies/{world.company_id}/routines", {"title": "", "priority": "urgent", "triggers": []}
    )
    assert response.status_code == 400
    details = response.json()["details"]
    assert sorted(d["path"] for d in details) == ["priority", "title", "triggers"]
    assert all(isinstance(d["message"], str) and d["message"] for d in details)


# Ids


@pytest.fixture(scope="module")
def root(api_url: str) -> Client:
    """A board key for every company, so only the id itself can make a call fail."""
    return Client(api_url, directory.create_board_key(None, "root", runtime.now()))


ID_ROUTES = [
    ("GET", "/companies/{}/routines", None),
    ("POST", "/companies/{}/routines", {"title": "R"}),
    ("GET", "/companies/{}/agents", None),
    ("POST", "/companies/{}/agents", {"name": "A"}),
    ("GET", "/companies/{}/projects", None),
    ("POST", "/companies/{}/projects", {"name": "P"}),
    ("GET", "/companies/{}/goals", None),
    ("GET", "/companies/{}/issues", None),
    ("POST", "/companies/{}/goals", {"title": "G"}),
    ("PATCH", "/agents/{}", {"status": "paused"}),
    ("POST", "/agents/{}/keys", {}),
    ("GET", "/routines/{}", None),
    ("PATCH", "/routines/{}", {"title": "T"}),
    ("GET", "/routines/{}/runs", None),
    ("POST", "/routines/{}/run", {}),
    ("POST", "/routines/{}/triggers", {"kind": "api"}),
    ("PATCH", "/routine-triggers/{}", {"label": "L"}),
    ("DELETE", "/routine-triggers/{}", None),
    ("POST", "/routine-triggers/{}/rotate-secret", {}),
]

NOT_FOUND = {
    "companies": "Company not found",
    "agents": "Agent not found",
    "routines": "Routine not found",
    "routine-triggers": "Routine trigger not found",
}


@pytest.mark.parametrize("entity_id", [UNKNOWN_ID, *MALFORMED_IDS], ids=lambda i: i[:40])
@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES])
def test_an_unknown_or_malformed_id_is_404(
    root: Client, entity_id: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = root.request(method, path.format(entity_id), body)
    assert response.status_code == 404, response.text
    assert response.json() == {"error": NOT_FOUND[path.split("/")[1]]}


@pytest.mark.parametrize("public_id", ["0" * 24, "abc", "0" * 25, "G" * 24])
def test_an_unknown_or_malformed_webhook_public_id_is_404(api_url: str, public_id: str) -> None:
    response = SESSION.post(
        f"{api_url}/routine-triggers/public/{public_id}/fire", json={}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/routines/{project}", None),
        ("POST", "/routines/{alpha}/run", {}),
        ("PATCH", "/routine-triggers/{alpha}", {"label": "x"}),
        ("POST", "/routine-triggers/{project}/rotate-secret", {}),
        ("PATCH", "/agents/{company}", {"status": "paused"}),
        ("PATCH", "/agents/{project}", {"status": "paused"}),
        ("GET", "/companies/{alpha}/agents", None),
    ],
)
def test_an_id_of_another_kind_is_404(world: World, method: str, path: str, body: dict[str, Any] | None) -> None:
    ids = {"project": world.project_id, "alpha": world.alpha_id, "company": world.company_id}
    response = world.board.request(method, path.format(**ids), body)
    assert response.status_code == 404, response.text
    assert [a["status"] for a in _agents(world)] == ["active", "active"]


def test_a_run_limit_that_is_not_a_number_is_the_default(furnished: World) -> None:
    routine_id = _first_routine(furnished)
    for query in ("limit=abc", "limit=", "limit=1e3", "limit=%00", "limit=99999999999999999999999999"):
        response = furnished.board.get(f"/routines/{routine_id}/runs?{query}")
        assert response.status_code == 200, (query, response.text)


def test_a_malformed_project_filter_lists_nothing(furnished: World) -> None:
    for project_id in ("abc", UNKNOWN_ID, "%00"):
        response = furnished.board.get(f"/companies/{furnished.company_id}/routines?projectId={project_id}")
        assert response.status_code == 200, response.text
        assert response.json() == []


# Every JSON route, read from the registered operations: a new route is covered as soon as it exists.
HUGE_INTEGER = b'{"name": ' + b"9" * 5000 + b"}"


def _json_operations() -> list[Any]:
    from chalicelib.api import blueprints  # noqa: F401 (registers every route)
    from chalicelib.api.http import OPERATIONS

    return [operation for operation in OPERATIONS if operation.request is not None]


class _Ids(dict[str, str]):
    """Path parameters of the furnished world; a parameter of a sub-resource of issues gets the issue's id."""

    def __missing__(self, key: str) -> str:
        return self["issueId"]


def _ids(world: World) -> tuple[_Ids, str]:
    routine_id = _first_routine(world)
    created = world.trigger(routine_id, kind="webhook")
    run = world.board.post(f"/routines/{routine_id}/run", {}).json()
    ids = _Ids(
        companyId=world.company_id,
        agentId=world.bravo_id,
        routineId=routine_id,
        triggerId=created["trigger"]["id"],
        publicId=created["trigger"]["publicId"],
        issueId=run["linkedIssueId"],
    )
    return ids, created["secretMaterial"]["webhookSecret"]


@pytest.mark.parametrize("operation", _json_operations(), ids=lambda o: f"{o.method} {o.path}")
def test_an_integer_of_5000_digits_is_400_on_every_json_route(furnished: World, operation: Any) -> None:
    ids, secret = _ids(furnished)
    key = secret if "publicId" in operation.path else furnished.board.key
    response = SESSION.request(
        operation.method,
        furnished.base + operation.path.format_map(ids),
        data=HUGE_INTEGER,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "Request body is not valid JSON"}


# Sizes: one payload limit for every firing, and DynamoDB's own limits as a 4xx


def test_a_manual_payload_over_the_limit_is_413_and_burns_no_issue_number(furnished: World) -> None:
    routine_id = _first_routine(furnished)
    before = _runs(furnished)
    response = furnished.board.post(f"/routines/{routine_id}/run", {"payload": {"blob": "x" * 300_000}})
    assert response.status_code == 413, response.text
    assert response.json() == {"error": "Payload is over the 262144-byte (256 KiB) limit"}
    assert _runs(furnished) == before
    first = furnished.board.post(f"/routines/{routine_id}/run", {"payload": {"blob": "x" * 200_000}}).json()
    issue = furnished.board.get(f"/issues/{first['linkedIssueId']}").json()
    assert first["status"] == "issue_created" and len(first["triggerPayload"]["blob"]) == 200_000
    assert issue["identifier"].endswith("-1")


def test_a_webhook_body_under_the_limit_that_is_over_it_as_stored_is_413(furnished: World) -> None:
    created = furnished.trigger(_first_routine(furnished), kind="webhook")
    body = ('{"text": "' + "é" * 100_000 + '"}').encode()  # 200 KB sent, 600 KB stored as escaped JSON
    response = SESSION.post(
        f"{furnished.base}/routine-triggers/public/{created['trigger']['publicId']}/fire",
        data=body,
        headers={
            "Authorization": f"Bearer {created['secretMaterial']['webhookSecret']}",
            "Content-Type": "application/json",
        },
        timeout=60,
    )
    assert response.status_code == 413, response.text
    assert "256 KiB" in response.json()["error"]


def test_dynamodb_refusing_an_item_over_400_kb_is_a_413_naming_the_limit() -> None:
    from pynamodb.exceptions import PutError

    from chalicelib.api.http import _failure
    from chalicelib.store.tables import IssueItem

    item = IssueItem(UNKNOWN_ID, companyId="c", identifier="X-1", title="t", status="todo", priority="low")
    item.description, item.createdAt, item.updatedAt = "x" * 500_000, "t", "t"
    with pytest.raises(PutError) as refused:
        item.save()
    response = _failure(refused.value)
    assert response.status_code == 413
    assert "400 KB item size limit" in response.body["error"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/companies/{company}/issues", "assigneeAgentId"),
        ("/companies/{company}/issues", "status"),
        ("/companies/{company}/issues", "originId"),
        ("/companies/{company}/routines", "projectId"),
    ],
)
def test_an_over_long_query_value_is_400_before_it_reaches_dynamodb(furnished: World, path: str, name: str) -> None:
    response = furnished.board.get(path.format(company=furnished.company_id), params={name: "a" * 5000})
    assert response.status_code == 400, response.text
    assert response.json() == {"error": f"Query parameter {name} is over 1024 bytes"}
