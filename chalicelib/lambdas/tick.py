"""The every-minute tick's Lambda handler (`chalicelib.lambdas.tick.handler`)."""

from typing import Any

from chalicelib import runtime
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import dispatch_queue
from chalicelib.services import scheduler

_POOL = scheduler.default_pool()


def _look_ahead() -> scheduler.LookAhead | None:
    sender = dispatch_queue()
    seconds = runtime.settings().look_ahead_seconds
    return scheduler.LookAhead(seconds, sender.send_later) if sender and seconds > 0 else None


def handler(event: dict[str, Any], context: object = None) -> dict[str, object]:
    """Finds due triggers; dispatches up to the budget here and queues the rest for the dispatcher, and sends
    the slots due before the next tick to the dispatcher, delayed to their second."""
    # `now` comes from the clock, never from the event (a retried invocation carries a stale time).
    sender = dispatch_queue()
    summary = scheduler.tick(
        runtime.now,
        runtime.new_id,
        _POOL,
        runtime.settings().tick_budget_triggers,
        sender.send if sender else None,
        runtime.settings().tick_budget_seconds,
        _look_ahead(),
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
            Metric.DELAYED_TRIGGERS: summary.delayed,
        }
    )
    return report
