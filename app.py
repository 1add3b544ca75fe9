"""The Chalice app: the API under /api, the every-minute tick and the SQS dispatcher."""

import functools
import os
from typing import Any

from chalice import Chalice, Rate

from chalicelib import runtime
from chalicelib.api.blueprints import BLUEPRINTS, PREFIX, UNROUTED
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import SqsSender, decode_message, sqs_sender
from chalicelib.services import scheduler, wakes
from chalicelib.settings import load_settings

# The composition root of the Lambda functions: the environment is read here, once. A process that
# configured itself before importing the app (the local stack, the tests) keeps its own settings.
SETTINGS = runtime.configured() or runtime.configure(load_settings(os.environ))
app = Chalice(app_name="routines")
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint, url_prefix=PREFIX)
app.register_blueprint(UNROUTED)

_POOL = scheduler.default_pool()


@functools.cache
def _sender() -> SqsSender | None:
    """Made on the first tick, not at import: the API functions import this module too."""
    url = SETTINGS.dispatch_queue_url
    return sqs_sender(url, SETTINGS.region, runtime.now) if url else None


def _look_ahead() -> scheduler.LookAhead | None:
    sender = _sender()
    seconds = runtime.settings().look_ahead_seconds
    return scheduler.LookAhead(seconds, sender.send_later) if sender and seconds > 0 else None


def _send_later(trigger_ids: list[str], not_before: str) -> None:
    """An early delivery waits on the queue it came from."""
    sender = _sender()
    if sender is None:
        raise RuntimeError("ROUTINES_DISPATCH_QUEUE_URL is unset: an early batch has no queue to wait on")
    sender.send_later(trigger_ids, not_before)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="tick")
def tick(event: Any) -> dict[str, object]:
    """Finds due triggers; dispatches up to the budget here and queues the rest for the dispatcher, and sends
    the slots due before the next tick to the dispatcher, delayed to their second."""
    # `now` comes from the clock, never from the event (a retried invocation carries a stale time).
    sender = _sender()
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
        }
    )
    return report


@app.on_sqs_message(queue=SETTINGS.dispatch_queue_name, batch_size=1, name="dispatch")
def dispatch(event: Any) -> None:
    """Dispatches a batch the tick queued, at or after its slot; a duplicate delivery is harmless (slot claims)."""
    for record in event:
        message = decode_message(record.body)
        ids = message.trigger_ids
        outcomes = scheduler.dispatch_delivery(ids, message.not_before, runtime.now, runtime.new_id, _POOL, _send_later)
        errors = sum(outcome.errors for outcome in outcomes)
        log("dispatch batch", triggers=len(ids), errors=errors, notBefore=message.not_before, dispatched=len(outcomes))
        metrics({Metric.DISPATCH_ERRORS: errors, Metric.DISPATCHED_TRIGGERS: len(outcomes)})
        if errors:
            # Let SQS redeliver the batch (and dead-letter it if it keeps failing); claims keep it exactly once.
            raise RuntimeError(f"{errors} of {len(ids)} triggers failed to dispatch")


@app.on_dynamodb_record(
    stream_arn=SETTINGS.issues_stream_arn, batch_size=10, starting_position="TRIM_HORIZON", name="wake"
)
def wake(event: Any) -> None:
    """Wakes the agents of created and assigned issues; a failed wake raises, and Lambda retries the batch
    (with backoff, then the dead-letter queue). Delivered wakes in a retried batch are not sent again."""
    changes = [wakes.Change(record.old_image, record.new_image) for record in event]
    woken = wakes.wake_all(changes, runtime.now, wakes.Delivery(SETTINGS.wake_allow_hosts))
    log("wake batch", records=len(changes), wakes=len(woken))
