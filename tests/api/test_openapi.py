"""The OpenAPI document: served, checked in, complete, and true to what the API answers."""

import json
from pathlib import Path
from typing import Any

import requests
from pydantic import TypeAdapter

import app
from chalicelib.api import fallback_api, responses
from chalicelib.api.openapi import OPERATIONS, PREFIX, Operation, build_document
from tests.support import World

CHECKED_IN = Path(__file__).resolve().parents[2] / "openapi.json"


def test_served_document_is_the_checked_in_copy(api_url: str) -> None:
    served = requests.get(f"{api_url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(CHECKED_IN.read_text()), (
        "openapi.json is out of date with the models: run `make openapi` and commit the result"
    )


def test_every_route_is_documented_and_nothing_else() -> None:
    routes = [(method, path, entry) for path, methods in app.app.routes.items() for method, entry in methods.items()]
    # The catch-all answers 404/405 for what no operation takes (tests/api/test_unrouted.py): not an operation.
    unrouted = {(method, path) for method, path, entry in routes if entry.view_function is fallback_api.not_routed}
    registered = {(method, path) for method, path, _ in routes} - unrouted
    documented = {
        (method.upper(), path) for path, operations in build_document()["paths"].items() for method in operations
    }
    assert documented == registered
    assert {("GET", "/{proxy+}"), ("PUT", "/"), ("PUT", f"{PREFIX}/health")} <= unrouted
    assert not documented & unrouted


def test_webhook_delivery_is_public_and_documents_its_headers() -> None:
    fire = build_document()["paths"][f"{PREFIX}/routine-triggers/public/{{publicId}}/fire"]["post"]
    headers = {parameter["name"] for parameter in fire["parameters"] if parameter["in"] == "header"}
    assert headers == {"X-Paperclip-Timestamp", "X-Paperclip-Signature", "Idempotency-Key"}
    assert {} in fire["security"]
    assert fire["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"


def test_trigger_creation_documents_the_discriminated_union() -> None:
    create = build_document()["paths"][f"{PREFIX}/routines/{{routineId}}/triggers"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["discriminator"]["propertyName"] == "kind"
    assert set(schema["discriminator"]["mapping"]) == {"schedule", "webhook", "api"}


def test_fields_that_refuse_null_may_be_left_out_but_are_not_nullable() -> None:
    update = build_document()["components"]["schemas"]["UpdateRoutine"]["properties"]
    assert update["title"]["type"] == "string"
    assert {"type": "null"} in update["description"]["anyOf"]


def test_routine_trigger_and_run_responses_fit_their_models(world: World) -> None:
    routine = world.routine()
    routine_id = routine["id"]
    conforms("create_routine", routine)
    for fields in ({"kind": "schedule", "cronExpression": "0 9 * * 1", "timezone": "Europe/Paris"}, {"kind": "api"}):
        conforms("create_trigger", world.trigger(routine_id, **fields))
    webhook = world.trigger(routine_id, kind="webhook")
    conforms("create_trigger", webhook)
    trigger_id, public_id = webhook["trigger"]["id"], webhook["trigger"]["publicId"]
    secret = webhook["secretMaterial"]["webhookSecret"]
    delivery = world.anonymous.post(
        f"/routine-triggers/public/{public_id}/fire", {"why": "test"}, headers={"Authorization": f"Bearer {secret}"}
    )
    conforms("fire_webhook", delivery)
    conforms("run_routine", world.alpha.post(f"/routines/{routine_id}/run", {"payload": {"why": "test"}}))
    detail = world.alpha.get(f"/routines/{routine_id}")
    conforms("get_routine", detail)
    assert secret not in detail.text
    conforms("list_routines", world.alpha.get(f"/companies/{world.company_id}/routines"))
    conforms("list_runs", world.alpha.get(f"/routines/{routine_id}/runs?limit=5"))
    conforms("update_routine", world.alpha.patch(f"/routines/{routine_id}", {"title": "Weekly digest"}))
    conforms("update_trigger", world.board.patch(f"/routine-triggers/{trigger_id}", {"label": "ci"}))
    conforms("rotate_secret", world.board.post(f"/routine-triggers/{trigger_id}/rotate-secret"))
    conforms("delete_trigger", world.board.delete(f"/routine-triggers/{trigger_id}"))


def test_issue_responses_fit_their_models(world: World) -> None:
    routine_id = world.routine()["id"]
    issue_id = world.alpha.post(f"/routines/{routine_id}/run", {}).json()["linkedIssueId"]
    conforms("list_issues", world.alpha.get(f"/companies/{world.company_id}/issues?originId={routine_id}"))
    conforms("get_issue", world.alpha.get(f"/issues/{issue_id}"))
    conforms("update_issue", world.alpha.patch(f"/issues/{issue_id}", {"status": "done"}))


def test_directory_and_health_responses_fit_their_models(world: World) -> None:
    company = f"/companies/{world.company_id}"
    conforms("list_companies", world.board.get("/companies"))
    conforms("create_agent", world.board.post(f"{company}/agents", {"name": "Charlie", "role": "ops"}))
    conforms("list_agents", world.board.get(f"{company}/agents"))
    conforms("update_agent", world.board.patch(f"/agents/{world.bravo_id}", {"status": "paused"}))
    conforms("create_agent_key", world.board.post(f"/agents/{world.bravo_id}/keys", {"label": "ci"}))
    conforms("create_project", world.board.post(f"{company}/projects", {"name": "Support"}))
    conforms("list_projects", world.board.get(f"{company}/projects"))
    conforms("create_goal", world.board.post(f"{company}/goals", {"title": "Grow"}))
    conforms("list_goals", world.board.get(f"{company}/goals"))
    conforms("health", world.anonymous.get("/health"))


def test_error_responses_fit_the_error_model(world: World) -> None:
    routine_id = world.routine()["id"]
    triggers = f"/routines/{routine_id}/triggers"
    conforms("list_companies", world.anonymous.get("/companies"), 401)
    conforms("create_company", world.board.post("/companies", {"nam": "X"}), 400)
    conforms("create_company", world.board.post("/companies", {"name": "X"}), 403)
    conforms("get_routine", world.alpha.get("/routines/not-an-id"), 404)
    conforms("update_routine", world.bravo.patch(f"/routines/{routine_id}", {"title": "Mine"}), 403)
    conforms("create_trigger", world.board.post(triggers, {"kind": "schedule", "cronExpression": "nope"}), 422)
    conforms("fire_webhook", world.anonymous.post("/routine-triggers/public/0123/fire", {}), 404)
    world.board.patch(f"/agents/{world.bravo_id}", {"status": "terminated"})
    conforms("update_routine", world.board.patch(f"/routines/{routine_id}", {"assigneeAgentId": world.bravo_id}), 409)


def test_a_body_that_is_not_json_is_a_415_in_the_error_shape(world: World) -> None:
    response = world.board.post("/companies", data='{"name": "X"}', headers={"Content-Type": "text/plain"})
    conforms("create_company", response, 415)


def conforms(operation_id: str, response: requests.Response | dict[str, Any], status: int | None = None) -> None:
    """The response has the expected status (by default the success one), which its operation documents,
    and a body its model accepts. A dict is a body that a builder received with the success status.
    """
    operation = next(operation for operation in OPERATIONS if operation.operation_id == operation_id)
    status = status or operation.status
    if isinstance(response, dict):
        body = json.dumps(response)
    else:
        body = response.text or "null"
        assert response.status_code == status, f"{operation_id}: {response.status_code} {body}"
    assert status in (operation.status, *operation.error_statuses), f"{operation_id} does not document {status}"
    TypeAdapter(_model_for(operation, status)).validate_json(body, strict=True)


def _model_for(operation: Operation, status: int) -> Any:
    if status == operation.status:
        return operation.response
    return responses.RateLimited if status == 429 else responses.Error
