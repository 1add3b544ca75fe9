"""The every-minute tick's Lambda handler (`chalicelib.lambdas.tick.handler`)."""

import functools
from typing import Any

from chalicelib import runtime
from chalicelib.lambdas import SETTINGS
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import sqs_sender
from chalicelib.services import scheduler

_POOL = scheduler.default_pool()


@functools.cache
def _send_batch() -> scheduler.SendBatch | None:
    """Made on the first tick, not at import: the API function imports this module too, through app.py."""
    return sqs_sender(SETTINGS.dispatch_queue_url, SETTINGS.region) if SETTINGS.dispatch_queue_url else None


def handler(event: dict[str, Any], context: object = None) -> dict[str, object]:
    """Finds due triggers; dispatches up to the budget here and queues the rest for the dispatcher."""
    # `now` comes from the clock, never from the event (a retried invocation carries a stale time).
    summary = scheduler.tick(
        runtime.now(),
        runtime.new_id,
        _POOL,
        runtime.settings().tick_budget_triggers,
        _send_batch(),
        runtime.settings().tick_budget_seconds,
    )
    report = summary.as_dict()
    log("tick", summary=report)
    metrics(
        {
            Metric.DUE_TRIGGERS: summary.due,
            Metric.TICK_LAG_SECONDS: summary.lag_seconds,
            Metric.SLOTS_DROPPED: summary.dropped_slots,
            Metric.DISPATCH_ERRORS: summary.errors,
            Metric.TICK_DURATION_SECONDS: summary.duration_seconds,
            Metric.QUEUED_TRIGGERS: summary.queued,
        }
    )
    return report
