"""The tick, the dispatcher and the wake reader as Lambda handlers: raw events in, no Chalice, no API.

app.py declares these functions with Chalice's decorators, since Chalice generates their functions, roles,
schedule and event source mappings from them, and its handlers delegate here. The packaged template points each
function's `Handler` here instead (`routines package`), so on AWS they import neither app.py nor the API's
blueprints and pydantic: a cold start of what they use, pynamodb and the services, and nothing more.

A composition root, like app.py: the environment is read here, once, unless the process configured itself first.
"""

import functools
import os
from typing import Any

from chalicelib import runtime
from chalicelib.observability import Metric, log, metrics
from chalicelib.queue import decode_batch, sqs_sender
from chalicelib.services import scheduler, wakes
from chalicelib.settings import load_settings

Event = dict[str, Any]

SETTINGS = runtime.configured() or runtime.configure(load_settings(os.environ))
_POOL = scheduler.default_pool()


@functools.cache
def _send_batch() -> scheduler.SendBatch | None:
    """Made on the first tick, not at import: the API function imports this module too, through app.py."""
    return sqs_sender(SETTINGS.dispatch_queue_url, SETTINGS.region) if SETTINGS.dispatch_queue_url else None


def tick(event: Event, context: object = None) -> dict[str, object]:
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


def dispatch(event: Event, context: object = None) -> None:
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


def wake(event: Event, context: object = None) -> None:
    """Wakes the agents of created and assigned issues; a failed wake raises, and Lambda retries the batch
    (with backoff, then the dead-letter queue). Delivered wakes in a retried batch are not sent again."""
    changes = [_change(record["dynamodb"]) for record in event["Records"]]
    woken = wakes.wake_all(changes, runtime.now, wakes.Delivery(SETTINGS.wake_allow_hosts))
    log("wake batch", records=len(changes), wakes=len(woken))


def _change(stream_record: Event) -> wakes.Change:
    """A stream record's images as DynamoDB JSON, as Chalice's `DynamoDBRecord` gives them (None when absent)."""
    return wakes.Change(stream_record.get("OldImage"), stream_record.get("NewImage"))
