"""Public webhook deliveries: authenticate first, then state, then the body, then `start_run`."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.models import Routine, RoutineStatus, Run, RunSource, Trigger
from chalicelib.domain.signing import Verified, verify_delivery
from chalicelib.services.runs import Firing, expires_in, idempotency_claim, start_run
from chalicelib.store import routines
from chalicelib.store.runs import Claim

_PUBLIC_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class Delivery:
    """An authentic delivery to an active trigger: its body may now be read."""

    trigger: Trigger
    routine: Routine
    verified: Verified


def verify_webhook(public_id: str, headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery:
    """Authenticates one delivery over its raw bytes, then checks the trigger and routine are active."""
    trigger_id = routines.trigger_id_for_public_id(public_id) if _PUBLIC_ID.match(public_id) else None
    trigger = routines.get_trigger(trigger_id) if trigger_id else None
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
    delivery: Delivery, payload: dict[str, Any], idempotency_key: str | None, now: datetime, new_id: IdFactory
) -> Run:
    """Fires the routine of an authentic delivery; a replayed signature or a repeated key fires nothing new."""
    trigger, routine = delivery.trigger, delivery.routine
    claims: list[Claim] = []
    if delivery.verified.replay_key and trigger.webhook:
        # Kept a little longer than the window, so a replay is caught for as long as it could verify.
        window = trigger.webhook.replay_window_sec
        claims.append(Claim(f"replay#{trigger.id}#{delivery.verified.replay_key}", expires_in(now, 2 * window + 60)))
    # The whole key counts: the claim hashes it, so two keys sharing a long prefix stay two firings.
    if idempotency_key:
        claims.append(idempotency_claim(routine.id, RunSource.webhook, trigger.id, idempotency_key))
    firing = Firing(RunSource.webhook, trigger, payload=payload, claims=tuple(claims), idempotency_key=idempotency_key)
    return start_run(routine, firing, now, new_id).run
