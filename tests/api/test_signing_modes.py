"""The `github_hmac` and `none` signing modes: forged, replayed and accepted deliveries."""

import uuid

from chalicelib.domain.signing import sign_github_delivery
from tests.api.test_webhooks import UNAUTHORIZED, Hook, make_hook
from tests.support import World


def test_a_github_delivery_signed_over_the_raw_body_fires_the_routine(world: World) -> None:
    hook = make_hook(world, "github_hmac", concurrencyPolicy="always_enqueue")
    body = b'{"ref": "main"}'

    accepted = hook.deliver(body, sign_github_delivery(hook.secret, body, str(uuid.uuid4())))

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["triggerPayload"] == {"ref": "main"}


def test_forged_github_deliveries_are_a_401_and_write_nothing(world: World) -> None:
    hook = make_hook(world, "github_hmac", concurrencyPolicy="always_enqueue")
    body = b'{"ref": "main"}'
    good = sign_github_delivery(hook.secret, body, str(uuid.uuid4()))
    before = hook.state()
    forged = [
        {},
        {"X-Hub-Signature-256": ""},
        {**good, "X-Hub-Signature-256": good["X-Hub-Signature-256"].upper()},
        sign_github_delivery("another secret", body, str(uuid.uuid4())),
        {**good, "X-Hub-Signature-256": _flip_last(good["X-Hub-Signature-256"])},
    ]
    for headers in forged:
        response = hook.deliver(body, headers)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), headers
    tampered = hook.deliver(b'{"ref": "evil"}', good)
    assert tampered.status_code == 401
    assert hook.state() == before


def test_a_repeated_github_delivery_id_is_a_409(world: World) -> None:
    hook = make_hook(world, "github_hmac", concurrencyPolicy="always_enqueue")
    body, delivery = b"{}", str(uuid.uuid4())
    headers = sign_github_delivery(hook.secret, body, delivery)
    assert hook.deliver(body, headers).status_code == 202
    after_first = hook.state()

    replayed = hook.deliver(body, headers)

    assert replayed.status_code == 409, replayed.text
    assert hook.state() == after_first
    assert hook.deliver(body, sign_github_delivery(hook.secret, body, str(uuid.uuid4()))).status_code == 202


def test_a_none_trigger_fires_for_anyone_with_the_url(world: World) -> None:
    hook: Hook = make_hook(world, "none", concurrencyPolicy="always_enqueue")

    first = hook.deliver(b'{"a": 1}')
    again = hook.deliver(b'{"a": 1}')

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] != again.json()["id"]


def test_a_none_delivery_with_a_repeated_idempotency_key_returns_the_same_run(world: World) -> None:
    hook = make_hook(world, "none", concurrencyPolicy="always_enqueue")
    first = hook.deliver(b"{}", {"Idempotency-Key": "k1"})
    again = hook.deliver(b"{}", {"Idempotency-Key": "k1"})
    assert first.json()["id"] == again.json()["id"]


def _flip_last(signature: str) -> str:
    """The signature with its last hex digit changed (always to another digit: a forgery)."""
    return signature[:-1] + ("1" if signature[-1] == "0" else "0")
