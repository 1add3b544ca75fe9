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

    Public: authenticated by the trigger's secret (`bearer`) or signature (`hmac_sha256`: timestamp and body;
    `github_hmac`: `X-Hub-Signature-256` over the body, a repeated `X-GitHub-Delivery` is a replay), checked
    before anything else. A `none` trigger checks nothing: anyone with the URL can fire it. The body must be a
    JSON object; it becomes the run's `triggerPayload`, and its top-level keys (and `variables`) fill the
    routine's variables.
    """
    # Admitted before anything else; every answer carries the allowance left.
    admission = ratelimit.admit_delivery(publicId, call.client_ip, call.now, runtime.settings().webhook_limits)
    call.response_headers.update(admission.allowance.headers())
    run = webhooks.receive_webhook(
        admission,
        dict(call.request.headers),
        call.raw_body,
        lambda: call.json_object("Webhook body", MAX_PAYLOAD_BYTES),
        call.header("Idempotency-Key"),
        call.now,
        runtime.new_id,
    )
    return responses.Run.of(run)
