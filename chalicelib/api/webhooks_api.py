"""The public webhook route: anyone may call it; the trigger's secret or signature decides."""

from typing import Any

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import responses
from chalicelib.api.http import WEBHOOK_AUTH, Call, Routes
from chalicelib.domain.limits import MAX_PAYLOAD_BYTES
from chalicelib.services import ratelimit, webhooks

bp = Blueprint(__name__)
routes = Routes(bp, "webhooks")


@routes.post(
    "/routine-triggers/public/{publicId}/fire",
    status=202,
    errors=(401, 404, 409, 429),
    security=WEBHOOK_AUTH,
    request=dict[str, Any],
)
def fire_webhook(call: Call, publicId: str) -> responses.Run:
    """Deliver a webhook

    Public: authenticated by the trigger's secret (`bearer`) or signature (`hmac_sha256`), checked before anything
    else. The body must be a JSON object; it becomes the run's `triggerPayload`.
    """
    # Counted before anything else, rejected deliveries too; every answer carries the allowance left.
    limits = runtime.settings().webhook_limits
    allowance = ratelimit.admit_delivery(publicId, call.client_ip, call.now, limits)
    call.response_headers.update(allowance.headers())
    delivery = webhooks.verify_webhook(publicId, dict(call.request.headers), call.raw_body, call.now)
    allowance = ratelimit.admit_authenticated(publicId, call.now, limits, allowance)
    call.response_headers.update(allowance.headers())
    payload = call.json_object("Webhook body", MAX_PAYLOAD_BYTES)
    run = webhooks.fire_webhook(delivery, payload, call.header("Idempotency-Key"), call.now, runtime.new_id)
    return responses.Run.of(run)
