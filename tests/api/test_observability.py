"""Structured logs carry ids, never secrets; metrics are EMF lines CloudWatch can read."""

import json

import pytest

from chalicelib import observability, runtime
from chalicelib.domain.signing import sign_delivery
from tests.support import World


def _json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_no_key_secret_or_signature_ever_reaches_a_log_line(world: World, capfd: pytest.CaptureFixture[str]) -> None:
    routine = world.routine()
    created = world.trigger(routine["id"], kind="webhook", signingMode="hmac_sha256")
    secret = created["secretMaterial"]["webhookSecret"]
    body = json.dumps({"event": "deploy"}).encode()
    headers = {"Content-Type": "application/json", **sign_delivery(secret, body, 1_900_000_000)}
    url = f"/routine-triggers/public/{created['trigger']['publicId']}/fire"
    world.anonymous.post(url, data=body, headers=headers)  # stale timestamp: 401, logged
    rotated = world.board.post(f"/routine-triggers/{created['trigger']['id']}/rotate-secret", {}).json()
    key = world.board.post(f"/agents/{world.alpha_id}/keys", {"label": "ci"}).json()["token"]
    world.alpha.get(f"/routines/{routine['id']}")
    world.anonymous.get("/companies", headers={"Authorization": "Bearer rk_agent_not-a-real-key"})

    captured = capfd.readouterr()
    everything = captured.out + captured.err
    forbidden = [secret, rotated["secretMaterial"]["webhookSecret"], headers["X-Paperclip-Signature"], key]
    forbidden += [world.board.key, world.alpha.key, "rk_agent_not-a-real-key"]
    assert [value for value in forbidden if value and value in everything] == []
    requests = [line for line in _json_lines(captured.err) if line.get("message") == "request"]
    assert {"method", "route", "status", "latencyMs"} <= requests[0].keys()
    assert any(line.get("routineId") == routine["id"] for line in requests)


def test_a_run_response_logs_its_run_id(world: World, capfd: pytest.CaptureFixture[str]) -> None:
    routine = world.routine()
    run = world.alpha.post(f"/routines/{routine['id']}/run", {}).json()
    lines = _json_lines(capfd.readouterr().err)
    assert any(line.get("runId") == run["id"] and line.get("status") == 202 for line in lines)


@pytest.mark.usefixtures("emitting")
def test_runs_are_counted_once_as_emf_metrics(world: World, capfd: pytest.CaptureFixture[str]) -> None:
    routine = world.routine()
    for _ in range(3):  # the same key thrice: one dispatch, two retries that return it
        world.alpha.post(f"/routines/{routine['id']}/run", {"idempotencyKey": "once"})

    documents = [line for line in _json_lines(capfd.readouterr().err) if "_aws" in line]
    dispatched = [doc for doc in documents if "RunsDispatched" in doc]
    assert len(dispatched) == 1
    (document,) = dispatched
    directive = document["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
    assert directive["Namespace"] == "Routines/test"
    assert directive["Dimensions"] == [["Source", "Status"]]
    assert (document["Source"], document["Status"], document["RunsDispatched"]) == ("manual", "issue_created", 1)


@pytest.mark.usefixtures("emitting")
def test_a_rejected_webhook_is_counted_by_reason(world: World, capfd: pytest.CaptureFixture[str]) -> None:
    routine = world.routine()
    public_id = world.trigger(routine["id"], kind="webhook")["trigger"]["publicId"]
    world.anonymous.post(f"/routine-triggers/public/{public_id}/fire", {}, headers={"Authorization": "Bearer no"})

    documents = [line for line in _json_lines(capfd.readouterr().err) if "WebhookRejected" in line]
    assert [(doc["Reason"], doc["WebhookRejected"]) for doc in documents] == [("bad_bearer", 1)]


@pytest.mark.usefixtures("emitting")
def test_webhook_deliveries_are_counted_by_answer(world: World, capfd: pytest.CaptureFixture[str]) -> None:
    routine = world.routine()
    created = world.trigger(routine["id"], kind="webhook")
    url = f"/routine-triggers/public/{created['trigger']['publicId']}/fire"
    good = {"Authorization": f"Bearer {created['secretMaterial']['webhookSecret']}"}
    world.anonymous.post(url, {}, headers=good)
    world.anonymous.post(url, {}, headers={"Authorization": "Bearer no"})
    world.board.patch(f"/routines/{routine['id']}", {"status": "paused"})
    world.anonymous.post(url, {}, headers=good)

    documents = [line for line in _json_lines(capfd.readouterr().err) if "WebhookDeliveries" in line]
    assert [(doc["Answer"], doc["WebhookDeliveries"]) for doc in documents] == [("2xx", 1), ("401", 1), ("409", 1)]
    assert documents[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Answer"]]  # type: ignore[index]


@pytest.mark.usefixtures("emitting")
def test_api_latency_and_server_errors_are_counted_by_route_group(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    routine = world.routine()
    capfd.readouterr()
    world.alpha.get(f"/routines/{routine['id']}")
    world.alpha.get(f"/issues/{routine['id']}")

    documents = [line for line in _json_lines(capfd.readouterr().err) if "ApiLatencySeconds" in line]
    assert [(doc["RouteGroup"], doc["ApiServerErrors"]) for doc in documents] == [("routines", 0), ("issues", 0)]
    assert all(float(doc["ApiLatencySeconds"]) > 0 for doc in documents)  # type: ignore[arg-type]


def test_metrics_stay_off_outside_lambda(capfd: pytest.CaptureFixture[str]) -> None:
    observability.metrics({observability.Metric.DUE_TRIGGERS: 3})
    assert "_aws" not in capfd.readouterr().err


def test_lines_below_the_configured_level_are_not_written(capfd: pytest.CaptureFixture[str]) -> None:
    observability.configure("warning", False, "Routines")
    try:
        observability.log("quiet", level="INFO")
        observability.log("loud", level="WARNING")
    finally:
        observability.configure(
            runtime.settings().log_level, runtime.settings().emit_metrics, runtime.settings().metrics_namespace
        )
    assert [line["message"] for line in _json_lines(capfd.readouterr().err)] == ["loud"]


def test_an_exception_is_logged_as_one_json_line_with_its_type_and_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def fail() -> None:
        raise LookupError("no such trigger")

    try:
        fail()
    except LookupError:
        observability.log_exception("tick failed", triggerId="t-1")

    (line,) = capfd.readouterr().err.splitlines()
    record = json.loads(line)
    assert (record["level"], record["message"], record["error"], record["triggerId"]) == (
        "ERROR",
        "tick failed",
        "LookupError",
        "t-1",
    )
    assert "in fail" in record["traceback"] and "LookupError: no such trigger" in record["traceback"]
