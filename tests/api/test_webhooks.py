"""Public webhook deliveries: 404, then authentication, then state, then the body, then the run."""

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib.domain.signing import sign_delivery
from chalicelib.store.tables import ClaimItem
from routines.cli import main as cli
from tests.support import World

UNAUTHORIZED = {"error": "Unauthorized"}
JSON = {"Content-Type": "application/json"}


@dataclass
class Hook:
    """A routine with one webhook trigger, and how to deliver to it."""

    world: World
    routine: dict[str, Any]
    trigger: dict[str, Any]
    url: str
    secret: str

    def deliver(
        self, body: bytes = b"{}", headers: dict[str, Any] | None = None, url: str | None = None
    ) -> requests.Response:
        return requests.post(url or self.url, data=body, headers={**JSON, **(headers or {})}, timeout=30)

    def bearer(
        self, body: bytes = b"{}", headers: dict[str, str] | None = None, url: str | None = None
    ) -> requests.Response:
        return self.deliver(body, {"Authorization": f"Bearer {self.secret}", **(headers or {})}, url)

    def signed(
        self, body: bytes = b"{}", timestamp: int | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        signature = sign_delivery(self.secret, body, timestamp or int(time.time()))
        return self.deliver(body, {**signature, **(headers or {})})

    def state(self) -> dict[str, Any]:
        """Everything a delivery could write: the routine (with triggers and runs), its issues and claims."""
        base = f"/routines/{self.routine['id']}"
        issues = self.world.board.get(
            f"/companies/{self.world.company_id}/issues", params={"originId": self.routine["id"]}
        )
        claims = ClaimItem.scan(ClaimItem.routineId == self.routine["id"], consistent_read=True)
        return {
            "routine": self.world.board.get(base).json(),
            "runs": self.world.board.get(f"{base}/runs", params={"limit": 200}).json(),
            "issues": issues.json(),
            "claims": sorted(claim.key for claim in claims),
        }

    def runs(self) -> list[dict[str, Any]]:
        return list(self.world.board.get(f"/routines/{self.routine['id']}/runs", params={"limit": 200}).json())


def make_hook(world: World, signing_mode: str = "bearer", **routine_fields: Any) -> Hook:
    routine = world.routine(**routine_fields)
    created = world.trigger(routine["id"], kind="webhook", signingMode=signing_mode, replayWindowSec=300)
    material = created["secretMaterial"]
    return Hook(world, routine, created["trigger"], material["webhookUrl"], material["webhookSecret"])


@pytest.fixture
def bearer_hook(world: World) -> Hook:
    return make_hook(world, "bearer", concurrencyPolicy="always_enqueue")


@pytest.fixture
def hmac_hook(world: World) -> Hook:
    return make_hook(world, "hmac_sha256", concurrencyPolicy="always_enqueue")


def raw_post(url: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Sends header bytes exactly as given (clients refuse some values `requests` would need to encode)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode())]:
            connection.putheader(name, value)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- accepted deliveries ---------------------------------------------------------------------------


def test_a_bearer_delivery_fires_the_routine_with_its_payload(bearer_hook: Hook) -> None:
    response = bearer_hook.bearer(b'{"event": "deploy", "n": 1}')

    assert response.status_code == 202, response.text
    run = response.json()
    assert run["source"] == "webhook"
    assert run["status"] == "issue_created"
    assert run["triggerId"] == bearer_hook.trigger["id"]
    assert run["triggerPayload"] == {"event": "deploy", "n": 1}
    [stored] = bearer_hook.runs()
    assert stored["id"] == run["id"]
    assert stored["triggerPayload"] == {"event": "deploy", "n": 1}
    issue = bearer_hook.world.board.get(f"/issues/{run['linkedIssueId']}").json()
    assert (issue["originRunId"], issue["status"]) == (run["id"], "todo")
    [trigger] = bearer_hook.state()["routine"]["triggers"]
    assert trigger["lastFiredAt"] == run["triggeredAt"]
    assert trigger["lastResult"] == f"Created execution issue {run['linkedIssueId']}"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/cloudevents+json"]
)
def test_json_content_types_with_parameters_or_suffixes_are_accepted(bearer_hook: Hook, content_type: str) -> None:
    response = bearer_hook.bearer(b'{"a": 1}', headers={"Content-Type": content_type})

    assert response.status_code == 202, response.text


def test_an_hmac_delivery_fires_the_routine_with_its_payload(hmac_hook: Hook) -> None:
    body = '{"message": "café"}'.encode()

    response = hmac_hook.signed(body)

    assert response.status_code == 202, response.text
    assert response.json()["source"] == "webhook"
    assert response.json()["triggerPayload"] == {"message": "café"}
    assert [run["id"] for run in hmac_hook.runs()] == [response.json()["id"]]


def test_an_hmac_signature_may_carry_the_sha256_prefix(hmac_hook: Hook) -> None:
    body, timestamp = b'{"a": 1}', int(time.time())
    headers = sign_delivery(hmac_hook.secret, body, timestamp)
    headers["X-Paperclip-Signature"] = "sha256=" + headers["X-Paperclip-Signature"]

    response = hmac_hook.deliver(body, headers)

    assert response.status_code == 202, response.text


def test_an_hmac_timestamp_in_milliseconds_is_accepted(hmac_hook: Hook) -> None:
    response = hmac_hook.signed(b'{"a": 1}', timestamp=int(time.time() * 1000))

    assert response.status_code == 202, response.text


def test_a_delivery_respects_the_concurrency_policy(world: World) -> None:
    hook = make_hook(world, "bearer", concurrencyPolicy="coalesce_if_active")

    first, second = hook.bearer().json(), hook.bearer().json()

    assert (first["status"], second["status"]) == ("issue_created", "coalesced")
    assert second["linkedIssueId"] == first["linkedIssueId"]
    assert second["coalescedIntoRunId"] == first["id"]
    assert len(hook.state()["issues"]) == 1


# --- rejected deliveries: documented 4xx, nothing written ------------------------------------------


Cases = dict[str, tuple[int, requests.Response]]


def assert_refused_without_a_write(hook: Hook, deliver_cases: Callable[[Hook], Cases]) -> None:
    """Each case gets its status and a documented error body, and all of them together write nothing."""
    before = hook.state()

    results = deliver_cases(hook)

    assert {name: response.status_code for name, (_, response) in results.items()} == {
        name: status for name, (status, _) in results.items()
    }
    assert {name for name, (status, r) in results.items() if status == 401 and r.json() != UNAUTHORIZED} == set()
    assert {name for name, (_, r) in results.items() if set(r.json()) - {"error", "details"}} == set()
    assert hook.state() == before


def bearer_cases(hook: Hook) -> Cases:
    other_secret = "0" * 48
    return {
        "missing authorization": (401, hook.deliver()),
        "wrong secret": (401, hook.deliver(headers={"Authorization": f"Bearer {other_secret}"})),
        "secret without scheme": (401, hook.deliver(headers={"Authorization": hook.secret})),
        "wrong scheme": (401, hook.deliver(headers={"Authorization": f"Token {hook.secret}"})),
        "lowercase scheme": (401, hook.deliver(headers={"Authorization": f"bearer {hook.secret}"})),
        "forged, text content type": (401, hook.deliver(b"x", {"Content-Type": "text/plain"})),
        "forged, unlisted content type": (401, hook.deliver(b"x", {"Content-Type": "application/x-custom"})),
        "board key": (401, hook.deliver(headers={"Authorization": f"Bearer {hook.world.board.key}"})),
        "secret prefix": (401, hook.deliver(headers={"Authorization": f"Bearer {hook.secret[:-1]}"})),
        "hmac headers instead": (401, hook.deliver(headers=sign_delivery(hook.secret, b"{}", int(time.time())))),
        "empty body": (400, hook.bearer(b"")),
        "array body": (400, hook.bearer(b"[1, 2]")),
        "string body": (400, hook.bearer(b'"text"')),
        "null body": (400, hook.bearer(b"null")),
        "not json": (400, hook.bearer(b"{nope")),
        "not utf-8": (400, hook.bearer(b'{"a": "\xff"}')),
        "text content type": (415, hook.bearer(b"{}", headers={"Content-Type": "text/plain"})),
        "form content type": (415, hook.bearer(b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})),
        "unlisted content type": (415, hook.bearer(b"{}", headers={"Content-Type": "application/x-custom"})),
        "1 MiB body": (413, hook.bearer(json.dumps({"pad": "x" * (1024 * 1024)}).encode())),
        "unknown public id": (404, hook.bearer(url=hook.url.replace(hook.trigger["publicId"], "ab" * 12))),
        "malformed public id": (404, hook.bearer(url=hook.url.replace(hook.trigger["publicId"], "not-an-id"))),
    }


def test_bad_bearer_deliveries_get_their_status_and_write_nothing(bearer_hook: Hook) -> None:
    assert_refused_without_a_write(bearer_hook, bearer_cases)
    assert bearer_hook.bearer().status_code == 202


def hmac_cases(hook: Hook) -> Cases:
    now = int(time.time())
    body = b'{"a": 1}'
    good = sign_delivery(hook.secret, body, now)
    signature, timestamp = good["X-Paperclip-Signature"], good["X-Paperclip-Timestamp"]
    return {
        "no headers": (401, hook.deliver(body)),
        "missing signature": (401, hook.deliver(body, {"X-Paperclip-Timestamp": timestamp})),
        "missing timestamp": (401, hook.deliver(body, {"X-Paperclip-Signature": signature})),
        "wrong secret": (401, hook.deliver(body, sign_delivery("0" * 48, body, now))),
        "bearer instead": (401, hook.bearer(body)),
        "stale timestamp": (401, hook.deliver(body, sign_delivery(hook.secret, body, now - 400))),
        "future timestamp": (401, hook.deliver(body, sign_delivery(hook.secret, body, now + 400))),
        "stale milliseconds": (401, hook.deliver(body, sign_delivery(hook.secret, body, (now - 400) * 1000))),
        "non-numeric timestamp": (401, hook.deliver(body, {**good, "X-Paperclip-Timestamp": "soon"})),
        "timestamp changed": (401, hook.deliver(body, {**good, "X-Paperclip-Timestamp": str(now - 1)})),
        "tampered body": (401, hook.deliver(b'{"a": 2}', good)),
        "uppercase hex": (401, hook.deliver(body, {**good, "X-Paperclip-Signature": signature.upper()})),
        "truncated signature": (401, hook.deliver(body, {**good, "X-Paperclip-Signature": signature[:-2]})),
        "other prefix": (401, hook.deliver(body, {**good, "X-Paperclip-Signature": "sha1=" + signature})),
        "latin-1 non-ascii signature": (401, hook.deliver(body, {**good, "X-Paperclip-Signature": "é" * 64})),
        "empty body": (400, hook.signed(b"", now)),
        "array body": (400, hook.signed(b"[]", now)),
        "not json": (400, hook.signed(b"{nope", now)),
        "text content type": (415, hook.signed(body, now, headers={"Content-Type": "text/plain"})),
        "1 MiB body": (413, hook.signed(json.dumps({"pad": "x" * (1024 * 1024)}).encode(), now)),
        "unknown public id": (404, hook.deliver(body, good, url=hook.url.replace(hook.trigger["publicId"], "cd" * 12))),
    }


def test_bad_hmac_deliveries_get_their_status_and_write_nothing(hmac_hook: Hook) -> None:
    assert_refused_without_a_write(hmac_hook, hmac_cases)
    assert hmac_hook.signed(b'{"a": 1}').status_code == 202


@pytest.mark.parametrize(
    "signature",
    [("é" * 64).encode("utf-8"), ("é" * 64).encode("latin-1"), ("é" * 32).encode("utf-8"), b"\xff" * 64],
    ids=["utf-8 64 chars", "latin-1 64 bytes", "utf-8 64 bytes", "invalid utf-8"],
)
def test_a_non_ascii_signature_is_a_plain_401(hmac_hook: Hook, signature: bytes) -> None:
    before = hmac_hook.state()
    timestamp = str(int(time.time())).encode()

    status, body = raw_post(
        hmac_hook.url, b"{}", [(b"X-Paperclip-Timestamp", timestamp), (b"X-Paperclip-Signature", signature)]
    )

    assert (status, json.loads(body)) == (401, UNAUTHORIZED)
    assert hmac_hook.state() == before


def test_a_body_of_exactly_256_kib_is_accepted_and_one_byte_more_is_a_413(bearer_hook: Hook) -> None:
    limit = 256 * 1024
    padding = limit - len(b'{"pad": ""}')
    at_limit = json.dumps({"pad": "x" * padding}, separators=(", ", ": ")).encode()
    assert len(at_limit) == limit

    accepted = bearer_hook.bearer(at_limit)
    over = bearer_hook.bearer(at_limit[:-2] + b'x"}')

    assert accepted.status_code == 202, accepted.text
    assert over.status_code == 413, over.text
    assert len(bearer_hook.runs()) == 1


def test_a_deleted_trigger_is_not_found(bearer_hook: Hook) -> None:
    assert bearer_hook.world.board.delete(f"/routine-triggers/{bearer_hook.trigger['id']}").status_code == 204
    before = bearer_hook.state()

    response = bearer_hook.bearer()

    assert response.status_code == 404, response.text
    assert bearer_hook.state() == before


@pytest.mark.parametrize("signing_mode", ["bearer", "hmac_sha256"])
def test_a_rotated_secret_stops_working_at_once(world: World, signing_mode: str) -> None:
    hook = make_hook(world, signing_mode, concurrencyPolicy="always_enqueue")
    old = hook.secret
    rotated = world.board.post(f"/routine-triggers/{hook.trigger['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secretMaterial"]["webhookUrl"] == hook.url
    before = hook.state()

    response = hook.bearer() if signing_mode == "bearer" else hook.signed()

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert hook.state() == before
    hook.secret = rotated.json()["secretMaterial"]["webhookSecret"]
    assert hook.secret != old
    assert (hook.bearer() if signing_mode == "bearer" else hook.signed()).status_code == 202


@pytest.mark.parametrize("signing_mode", ["bearer", "hmac_sha256"])
@pytest.mark.parametrize("state", ["trigger disabled", "routine paused", "routine archived"])
def test_an_inactive_trigger_answers_409_only_to_authentic_deliveries(
    world: World, signing_mode: str, state: str
) -> None:
    hook = make_hook(world, signing_mode)
    if state == "trigger disabled":
        patched = world.board.patch(f"/routine-triggers/{hook.trigger['id']}", {"enabled": False})
    else:
        patched = world.board.patch(f"/routines/{hook.routine['id']}", {"status": state.split()[1]})
    assert patched.status_code == 200, patched.text
    before = hook.state()

    authentic = hook.bearer() if signing_mode == "bearer" else hook.signed()
    forged = hook.deliver(headers={"Authorization": "Bearer nope"})
    authentic_bad_body = (
        hook.bearer(b"[]", headers={"Content-Type": "text/plain"})
        if signing_mode == "bearer"
        else hook.signed(b"[]", headers={"Content-Type": "text/plain"})
    )

    assert (authentic.status_code, authentic.json()) == (409, {"error": "Routine trigger is not active"})
    assert (forged.status_code, forged.json()) == (401, UNAUTHORIZED)
    assert authentic_bad_body.status_code == 409
    assert hook.state() == before


# --- replays and idempotency -----------------------------------------------------------------------


def test_an_exact_replay_of_an_hmac_delivery_is_a_409(hmac_hook: Hook) -> None:
    body, timestamp = b'{"a": 1}', int(time.time())
    headers = sign_delivery(hmac_hook.secret, body, timestamp)
    accepted = hmac_hook.deliver(body, headers)
    assert accepted.status_code == 202, accepted.text
    after_first = hmac_hook.state()

    replayed = hmac_hook.deliver(body, headers)
    prefixed = hmac_hook.deliver(
        body, {**headers, "X-Paperclip-Signature": "sha256=" + headers["X-Paperclip-Signature"]}
    )

    assert replayed.status_code == 409, replayed.text
    assert prefixed.status_code == 409, prefixed.text
    assert hmac_hook.state() == after_first
    assert hmac_hook.signed(body, timestamp + 1).status_code == 202
    assert len(hmac_hook.runs()) == 2


def test_a_replay_is_a_409_even_with_the_same_idempotency_key(hmac_hook: Hook) -> None:
    body = b'{"a": 1}'
    headers = {**sign_delivery(hmac_hook.secret, body, int(time.time())), "Idempotency-Key": "evt-1"}
    assert hmac_hook.deliver(body, headers).status_code == 202

    assert hmac_hook.deliver(body, headers).status_code == 409
    assert len(hmac_hook.runs()) == 1


def test_bearer_deliveries_without_a_key_are_separate_firings(bearer_hook: Hook) -> None:
    first, second = bearer_hook.bearer(), bearer_hook.bearer()

    assert first.json()["id"] != second.json()["id"]
    assert len(bearer_hook.runs()) == 2
    assert len(bearer_hook.state()["issues"]) == 2


def test_a_retried_bearer_delivery_with_an_idempotency_key_returns_the_same_run(bearer_hook: Hook) -> None:
    first = bearer_hook.bearer(b'{"n": 1}', headers={"Idempotency-Key": "evt-1"})
    after_first = bearer_hook.state()

    retry = bearer_hook.bearer(b'{"n": 1}', headers={"Idempotency-Key": "evt-1"})

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert first.json()["idempotencyKey"] == "evt-1"
    assert bearer_hook.state() == after_first
    other = bearer_hook.bearer(b'{"n": 2}', headers={"Idempotency-Key": "evt-2"})
    assert other.json()["id"] != first.json()["id"]
    assert len(bearer_hook.runs()) == 2


def test_a_retried_hmac_delivery_with_an_idempotency_key_returns_the_same_run(hmac_hook: Hook) -> None:
    body, now = b'{"n": 1}', int(time.time())
    first = hmac_hook.signed(body, now, headers={"Idempotency-Key": "evt-1"})
    after_first = hmac_hook.state()

    retry = hmac_hook.signed(body, now + 1, headers={"Idempotency-Key": "evt-1"})

    assert (first.status_code, retry.status_code) == (202, 202), retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert hmac_hook.state() == after_first


def test_idempotency_keys_sharing_a_long_prefix_are_separate_firings(bearer_hook: Hook) -> None:
    prefix = "k" * 255

    first = bearer_hook.bearer(headers={"Idempotency-Key": prefix + "-first"})
    second = bearer_hook.bearer(headers={"Idempotency-Key": prefix + "-second"})
    retry = bearer_hook.bearer(headers={"Idempotency-Key": prefix + "-second"})

    assert (first.status_code, second.status_code, retry.status_code) == (202, 202, 202)
    assert first.json()["id"] != second.json()["id"] == retry.json()["id"]
    assert second.json()["idempotencyKey"] == prefix + "-second"
    assert len(bearer_hook.runs()) == 2


def test_an_idempotency_key_is_scoped_to_the_trigger(world: World) -> None:
    hook = make_hook(world, "bearer", concurrencyPolicy="always_enqueue")
    second = world.trigger(hook.routine["id"], kind="webhook")
    material = second["secretMaterial"]
    other = Hook(world, hook.routine, second["trigger"], material["webhookUrl"], material["webhookSecret"])

    a = hook.bearer(headers={"Idempotency-Key": "evt-1"}).json()
    b = other.bearer(headers={"Idempotency-Key": "evt-1"}).json()
    manual = world.board.post(f"/routines/{hook.routine['id']}/run", {"idempotencyKey": "evt-1"}).json()

    assert len({a["id"], b["id"], manual["id"]}) == 3
    assert len(hook.runs()) == 3


# --- the CLI ----------------------------------------------------------------------------------------


def printed_response(out: str) -> tuple[str, Any]:
    """The status line and JSON body the CLI printed (the in-process test server logs to stdout too)."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.isdigit())
    return lines[at], json.loads(lines[at + 1])


def test_the_cli_sends_a_bearer_delivery_and_prints_the_response(
    bearer_hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(["webhook", "fire", bearer_hook.url, "--secret", bearer_hook.secret, "--data", '{"via": "cli"}'])

    status, run = printed_response(capsys.readouterr().out)
    assert (code, status) == (0, "202")
    assert run["triggerPayload"] == {"via": "cli"}
    assert [r["id"] for r in bearer_hook.runs()] == [run["id"]]


def test_the_cli_signs_an_hmac_delivery_with_an_idempotency_key(
    hmac_hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["webhook", "fire", hmac_hook.url, "--secret", hmac_hook.secret, "--hmac", "--idempotency-key", "cli-1"]

    first = cli([*args, "--data", '{"via": "cli"}'])
    first_printed = printed_response(capsys.readouterr().out)
    # A different body, so the retry is not an exact replay even within the same second.
    again = cli([*args, "--data", '{"via": "cli", "retry": 1}'])
    again_printed = printed_response(capsys.readouterr().out)

    assert (first, again) == (0, 0)
    assert first_printed[0] == again_printed[0] == "202"
    assert first_printed[1]["id"] == again_printed[1]["id"]
    assert first_printed[1]["source"] == "webhook"
    assert len(hmac_hook.runs()) == 1


def test_the_cli_prints_a_rejection_and_fails(bearer_hook: Hook, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["webhook", "fire", bearer_hook.url, "--secret", "wrong"])

    assert (code, *printed_response(capsys.readouterr().out)) == (1, "401", UNAUTHORIZED)
    assert bearer_hook.runs() == []
