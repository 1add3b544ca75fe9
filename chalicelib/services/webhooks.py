"""Public webhook deliveries: authenticate first, then state, then the body, then `start_run`."""

import re
from collections.abc import Mapping
from datetime import datetime

from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    UnsupportedMediaType,
)
from chalicelib.domain.ids import IdFactory
from chalicelib.domain.media import header, is_json, parse_json
from chalicelib.domain.models import RoutineStatus, Run, RunSource
from chalicelib.domain.signing import SigningMode, verify_delivery
from chalicelib.services.runs import Firing, expires_in, idempotency_claim, start_run
from chalicelib.store import routines
from chalicelib.store.runs import Claim

MAX_BODY_BYTES = 256 * 1024
_PUBLIC_ID = re.compile(r"^[0-9a-f]{24}$")


def fire_webhook(
    public_id: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    new_id: IdFactory,
) -> Run:
    """Verifies one delivery over its raw bytes and fires the trigger's routine."""
    trigger_id = routines.trigger_id_for_public_id(public_id) if _PUBLIC_ID.match(public_id) else None
    trigger = routines.get_trigger(trigger_id) if trigger_id else None
    if trigger is None or trigger.secret is None:
        raise NotFound("Routine trigger not found")
    mode = SigningMode(trigger.signing_mode or SigningMode.bearer)
    window = trigger.replay_window_sec or 300
    verified = verify_delivery(mode, trigger.secret, headers, body, now, window)
    routine = routines.get_routine(trigger.routine_id)
    if routine is None:
        raise NotFound("Routine not found")
    if not trigger.enabled or routine.status != RoutineStatus.active:
        raise Conflict("Routine trigger is not active")
    payload = _json_object(headers, body)
    claims: list[Claim] = []
    if verified.replay_key:
        # Kept a little longer than the window, so a replay is caught for as long as it could verify.
        claims.append(
            Claim(
                f"replay#{trigger.id}#{verified.replay_key}",
                expires_in(now, 2 * window + 60),
            )
        )
    # The whole key counts: the claim hashes it, so two keys sharing a long prefix stay two firings.
    key = header(headers, "Idempotency-Key")
    if key:
        claims.append(idempotency_claim(routine.id, RunSource.webhook, trigger.id, key))
    firing = Firing(RunSource.webhook, trigger, payload=payload, claims=tuple(claims), idempotency_key=key)
    return start_run(routine, firing, now, new_id).run


def _json_object(headers: Mapping[str, str], body: bytes) -> dict[str, object]:
    content_type = header(headers, "Content-Type")
    if not is_json(content_type):  # even an empty delivery must say it is JSON
        raise UnsupportedMediaType("Webhook body must be application/json")
    payload = parse_json(content_type, body, MAX_BODY_BYTES)
    if not isinstance(payload, dict):
        raise BadRequest("Webhook body must be a JSON object")
    return payload
