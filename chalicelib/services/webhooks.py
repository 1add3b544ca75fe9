"""Public webhook deliveries: admit (rate limits), authenticate, then state, then the body, then `start_run`."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import Routine, RoutineStatus, Run, RunSource, Trigger
from chalicelib.domain.signing import Verified, verify_delivery
from chalicelib.services.ratelimit import Admission, count_delivery
from chalicelib.services.runs import Fired, Firing, expires_in, idempotency_claim, start_run
from chalicelib.store import routines
from chalicelib.store.ratelimit import Window, WindowFull
from chalicelib.store.runs import Claim


@dataclass(frozen=True)
class Delivery:
    """An authentic delivery to an active trigger: its body may now be read."""

    trigger: Trigger
    routine: Routine
    verified: Verified


def receive_webhook(
    admission: Admission,
    headers: Mapping[str, str],
    body: bytes,
    read_payload: Callable[[], dict[str, Any]],
    idempotency_key: str | None,
    now: datetime,
    new_id: IdFactory,
) -> Run:
    """Authenticates an admitted delivery over its raw bytes, only then reads its payload, and fires; its
    rate-limit hits go in the dispatch transaction, or on their own when it fires nothing."""
    try:
        delivery = verify_webhook(admission.trigger, headers, body, now)
    except Exception:
        count_delivery(admission, authenticated=False)
        raise
    try:
        fired = fire_webhook(delivery, read_payload(), idempotency_key, now, new_id, admission.windows(True))
    except WindowFull as exc:
        raise admission.refusal(exc.window.limit) from exc
    except Exception:
        count_delivery(admission, authenticated=True)
        raise
    if not fired.written:
        count_delivery(admission, authenticated=True)
    return fired.run


def verify_webhook(trigger: Trigger | None, headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery:
    """Authenticates one delivery to `trigger` (as its public id found it), then reads the routine and checks
    both are active."""
    if trigger is None or trigger.webhook is None:
        raise NotFound("Routine trigger not found")
    spec = trigger.webhook
    verified = verify_delivery(spec.signing_mode, spec.secret, headers, body, now, spec.replay_window_sec)
    routine = routines.get_routine(trigger.routine_id)
    if routine is None:
        raise NotFound("Routine not found")
    if not trigger.enabled or routine.status != RoutineStatus.active:
        raise Conflict("Routine trigger is not active")
    return Delivery(trigger, routine, verified)


def fire_webhook(
    delivery: Delivery,
    payload: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
    new_id: IdFactory,
    windows: tuple[Window, ...] = (),
) -> Fired:
    """Fires the routine of an authentic delivery, counting it in `windows`; a replayed signature or a repeated
    key fires nothing new."""
    trigger, routine = delivery.trigger, delivery.routine
    claims: list[Claim] = []
    if delivery.verified.replay_key and trigger.webhook:
        # Kept a little longer than the window, so a replay is caught for as long as it could verify.
        window = trigger.webhook.replay_window_sec
        claims.append(Claim(f"replay#{trigger.id}#{delivery.verified.replay_key}", expires_in(now, 2 * window + 60)))
    # The whole key counts: the claim hashes it, so two keys sharing a long prefix stay two firings.
    if idempotency_key:
        claims.append(idempotency_claim(routine.id, RunSource.webhook, trigger.id, idempotency_key))
    firing = Firing(
        RunSource.webhook,
        trigger,
        payload=payload,
        claims=tuple(claims),
        idempotency_key=idempotency_key,
        windows=windows,
    )
    return start_run(routine, firing, now, new_id)
