"""The wake reader's Lambda handler (`chalicelib.lambdas.wake.handler`): the issues table's stream records."""

from typing import Any

from chalicelib import runtime
from chalicelib.lambdas import SETTINGS
from chalicelib.observability import log
from chalicelib.services import wakes


def handler(event: dict[str, Any], context: object = None) -> None:
    """Wakes the agents of created and assigned issues; a failed wake raises, and Lambda retries the batch
    (with backoff, then the dead-letter queue). Delivered wakes in a retried batch are not sent again."""
    changes = [_change(record["dynamodb"]) for record in event["Records"]]
    woken = wakes.wake_all(changes, runtime.now, wakes.Delivery(SETTINGS.wake_allow_hosts))
    log("wake batch", records=len(changes), wakes=len(woken))


def _change(stream_record: dict[str, Any]) -> wakes.Change:
    """A stream record's images as DynamoDB JSON, as Chalice's `DynamoDBRecord` gives them (None when absent)."""
    return wakes.Change(stream_record.get("OldImage"), stream_record.get("NewImage"))
