"""Webhook rate limits: per public id and per client address, fixed one-minute windows in DynamoDB."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import RateLimited, Unauthorized
from chalicelib.domain.models import Run
from chalicelib.services.ratelimit import WINDOW_SECONDS, Admission, Allowance, admit_delivery, count_delivery
from chalicelib.services.webhooks import receive_webhook
from chalicelib.settings import WebhookLimits
from chalicelib.store.tables import ClaimItem, read
from tests.support import World


def _webhook(world: World) -> tuple[str, str, str]:
    routine = world.routine(concurrencyPolicy="always_enqueue")
    created = world.trigger(routine["id"], kind="webhook")
    return routine["id"], created["trigger"]["publicId"], created["secretMaterial"]["webhookSecret"]


def _fire(world: World, public_id: str, secret: str) -> "object":
    return world.anonymous.post(
        f"/routine-triggers/public/{public_id}/fire", {"event": "x"}, headers={"Authorization": f"Bearer {secret}"}
    )


def _fill_windows(public_id: str) -> None:
    """Puts this id's current and next window at the limit (the minute may turn before the request)."""
    start = int(datetime.now(UTC).timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    for window in (start, start + WINDOW_SECONDS):
        key = f"rate#id#{public_id}#{window}"
        ClaimItem(key, hits=runtime.settings().webhook_limits.per_id, expiresAt=window + 2 * WINDOW_SECONDS).save()


def _refused(public_id: str, address: str, now: datetime, limits: WebhookLimits) -> Allowance:
    """A delivery that fails authentication: admitted, then counted in the windows every delivery counts in."""
    admission = admit_delivery(public_id, address, now, limits)
    count_delivery(admission, authenticated=False)
    return admission.allowance


def _authenticated(public_id: str, address: str, now: datetime, limits: WebhookLimits) -> Allowance:
    """An authenticated delivery (as one that fires nothing counts it): in the id's own allowance too."""
    admission = admit_delivery(public_id, address, now, limits)
    count_delivery(admission, authenticated=True)
    return admission.allowance


def test_every_delivery_answer_carries_the_allowance_left(world: World) -> None:
    _, public_id, secret = _webhook(world)
    accepted = _fire(world, public_id, secret)
    refused = _fire(world, public_id, "wrong")
    assert (accepted.status_code, refused.status_code) == (202, 401)  # type: ignore[attr-defined]
    for response in (accepted, refused):
        assert response.headers["X-RateLimit-Limit"] == str(runtime.settings().webhook_limits.per_id)  # type: ignore[attr-defined]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (accepted, refused)]  # type: ignore[attr-defined]
    assert remaining[1] == remaining[0] - 1  # the rejected delivery counted too


def test_a_full_window_answers_429_with_retry_after_and_fires_nothing(world: World) -> None:
    routine_id, public_id, secret = _webhook(world)
    _fill_windows(public_id)

    response = _fire(world, public_id, secret)

    assert response.status_code == 429  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == "Webhook rate limit exceeded"
    assert 1 <= body["retryAfterSeconds"] <= WINDOW_SECONDS
    headers = response.headers  # type: ignore[attr-defined]
    assert int(headers["Retry-After"]) == body["retryAfterSeconds"]
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == (
        str(runtime.settings().webhook_limits.per_id),
        "0",
    )
    assert world.board.get(f"/routines/{routine_id}/runs").json() == []


def test_an_unknown_public_id_is_counted_and_limited_too(world: World) -> None:
    public_id = "f" * 24
    _fill_windows(public_id)
    assert _fire(world, public_id, "guess").status_code == 429  # type: ignore[attr-defined]


def test_the_per_address_limit_binds_across_public_ids() -> None:
    now = datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC)
    address = "203.0.113.7"
    for index in range(12):
        _refused(f"per-address-{index % 3}", address, now, WebhookLimits(30, 12))
    with pytest.raises(RateLimited) as refused:
        admit_delivery("per-address-another", address, now, WebhookLimits(30, 12))
    assert (refused.value.limit, refused.value.retry_after) == (12, WINDOW_SECONDS - 5)


def test_the_tighter_limit_is_the_one_reported() -> None:
    now = datetime(2026, 6, 1, 13, 0, 0, tzinfo=UTC)
    allowance = admit_delivery("tighter-id", "203.0.113.8", now, WebhookLimits(3, 120)).allowance
    assert (allowance.limit, allowance.remaining) == (3, 2)


def test_a_new_window_starts_afresh() -> None:
    now = datetime(2026, 6, 1, 12, 0, 59, tzinfo=UTC)
    limits = WebhookLimits(per_id=5, per_ip=100)
    for _ in range(5):
        _refused("window-test-id", "198.51.100.1", now, limits)
    with pytest.raises(RateLimited):
        admit_delivery("window-test-id", "198.51.100.1", now, limits)
    allowance = admit_delivery("window-test-id", "198.51.100.1", now + timedelta(seconds=1), limits).allowance
    assert allowance.remaining == 4


def test_bad_deliveries_from_one_address_do_not_spend_the_valid_senders_allowance() -> None:
    now = datetime(2026, 6, 1, 14, 0, 5, tzinfo=UTC)
    limits = WebhookLimits(per_id=30, per_ip=120)
    for _ in range(30):  # unauthenticated: counted before authentication, and never admitted further
        _refused("lockout-target-id", "198.51.100.66", now, limits)
    with pytest.raises(RateLimited):
        admit_delivery("lockout-target-id", "198.51.100.66", now, limits)

    for sent in range(30):
        allowance = _authenticated("lockout-target-id", "203.0.113.9", now, limits)
        assert allowance.remaining == 29 - sent
    with pytest.raises(RateLimited):  # the id's own allowance still binds the authenticated deliveries
        _authenticated("lockout-target-id", "203.0.113.10", now, limits)


def test_an_id_whose_authenticated_allowance_is_spent_refuses_before_authentication() -> None:
    now = datetime(2026, 6, 1, 15, 0, 5, tzinfo=UTC)
    limits = WebhookLimits(per_id=2, per_ip=120)
    for _ in range(2):
        _authenticated("spent-id", "203.0.113.11", now, limits)
    with pytest.raises(RateLimited):
        admit_delivery("spent-id", "203.0.113.12", now, limits)


def _windows(public_id: str, address: str, now: datetime) -> tuple[int, int, int]:
    """The hits of the id's own window, its (id, address) window and the address's window."""
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    keys = (f"rate#id#{public_id}#{start}", f"rate#sender#{public_id}#{address}#{start}", f"rate#ip#{address}#{start}")
    items = [read(ClaimItem, key) for key in keys]
    return tuple(int(item.hits or 0) if item else 0 for item in items)  # type: ignore[return-value]


def _receive(public_id: str, secret: str, admission: Admission, now: datetime) -> Run:
    headers = {"authorization": f"Bearer {secret}"}
    return receive_webhook(admission, headers, b"{}", lambda: {}, None, now, runtime.new_id)


def test_a_delivery_that_fires_counts_in_all_three_windows_and_a_refused_one_in_two(world: World) -> None:
    _, public_id, secret = _webhook(world)
    now, limits = runtime.now(), WebhookLimits(30, 120)
    _receive(public_id, secret, admit_delivery(public_id, "192.0.2.40", now, limits), now)
    assert _windows(public_id, "192.0.2.40", now) == (1, 1, 1)
    with pytest.raises(Unauthorized):
        _receive(public_id, "wrong", admit_delivery(public_id, "192.0.2.41", now, limits), now)
    assert _windows(public_id, "192.0.2.41", now) == (1, 1, 1)  # the id's own window kept its one hit


def test_a_window_filled_after_admission_refuses_the_dispatch_and_fires_nothing(world: World) -> None:
    routine_id, public_id, secret = _webhook(world)
    now, limits = runtime.now(), WebhookLimits(per_id=3, per_ip=120)
    admission = admit_delivery(public_id, "192.0.2.50", now, limits)
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    ClaimItem(f"rate#id#{public_id}#{start}", hits=3, expiresAt=start + 2 * WINDOW_SECONDS).save()  # racers won

    with pytest.raises(RateLimited) as refused:
        _receive(public_id, secret, admission, now)

    assert refused.value.limit == 3
    assert world.board.get(f"/routines/{routine_id}/runs").json() == []
    assert _windows(public_id, "192.0.2.50", now) == (3, 0, 0)  # the cancelled transaction added nothing


def test_a_wrong_secret_over_the_limit_answers_429_as_a_right_one_would(world: World) -> None:
    _, public_id, _ = _webhook(world)
    now, limits = runtime.now(), WebhookLimits(per_id=3, per_ip=120)
    admission = admit_delivery(public_id, "192.0.2.60", now, limits)
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    ClaimItem(f"rate#sender#{public_id}#192.0.2.60#{start}", hits=3, expiresAt=start + 2 * WINDOW_SECONDS).save()

    with pytest.raises(RateLimited):
        _receive(public_id, "a guess", admission, now)
