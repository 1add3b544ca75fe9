"""The dispatcher's Lambda handler (`chalicelib.lambdas.dispatch.handler`): SQS records of trigger ids."""

from typing import Any

from chalicelib import runtime
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import decode_batch
from chalicelib.services import scheduler

_POOL = scheduler.default_pool()


def handler(event: dict[str, Any], context: object = None) -> None:
    """Dispatches each SQS record's batch the tick queued; a duplicate delivery is harmless (slot claims)."""
    for record in event["Records"]:
        ids = decode_batch(record["body"])
        outcomes = scheduler.dispatch_all(ids, runtime.now(), runtime.new_id, _POOL)
        errors = sum(outcome.errors for outcome in outcomes)
        log("dispatch batch", triggers=len(ids), errors=errors)
        metrics({Metric.DISPATCH_ERRORS: errors, Metric.DISPATCHED_TRIGGERS: len(ids)})
        if errors:
            # Let SQS redeliver the batch (and dead-letter it if it keeps failing); claims keep it exactly once.
            raise RuntimeError(f"{errors} of {len(ids)} triggers failed to dispatch")
