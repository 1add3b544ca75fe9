"""The dispatcher's Lambda handler (`chalicelib.lambdas.dispatch.handler`): SQS records of trigger ids."""

from typing import Any

from chalicelib import runtime
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import decode_message, dispatch_queue
from chalicelib.services import scheduler

_POOL = scheduler.default_pool()


def _send_later(trigger_ids: list[str], not_before: str) -> None:
    """An early delivery waits on the queue it came from."""
    sender = dispatch_queue()
    if sender is None:
        raise RuntimeError("ROUTINES_DISPATCH_QUEUE_URL is unset: an early batch has no queue to wait on")
    sender.send_later(trigger_ids, not_before)


def handler(event: dict[str, Any], context: object = None) -> None:
    """Dispatches each SQS record's batch the tick queued, at or after its slot; a duplicate delivery is harmless
    (slot claims)."""
    for record in event["Records"]:
        message = decode_message(record["body"])
        ids = message.trigger_ids
        outcomes = scheduler.dispatch_delivery(ids, message.not_before, runtime.now, runtime.new_id, _POOL, _send_later)
        errors = sum(outcome.errors for outcome in outcomes)
        log("dispatch batch", triggers=len(ids), errors=errors, notBefore=message.not_before, dispatched=len(outcomes))
        metrics({Metric.DISPATCH_ERRORS: errors, Metric.DISPATCHED_TRIGGERS: len(outcomes)})
        if errors:
            # Let SQS redeliver the batch (and dead-letter it if it keeps failing); claims keep it exactly once.
            raise RuntimeError(f"{errors} of {len(ids)} triggers failed to dispatch")
