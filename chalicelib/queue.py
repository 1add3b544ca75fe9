"""Fan-out over SQS: the tick sends batches of trigger ids, now or delayed to their slot; the dispatcher reads them."""

import functools
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import runtime
from chalicelib.domain.timefmt import Clock, from_iso

# SQS holds a message back for at most 15 minutes (`DelaySeconds` 0-900, whole seconds).
MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class Message:
    """One dispatch message: the trigger ids and, for a look-ahead batch, the slot they fire at (`notBefore`)."""

    trigger_ids: list[str]
    not_before: str | None = None


@dataclass(frozen=True)
class SqsSender:
    """Sends the tick's batches to the dispatch queue: `send` for now, `send_later` held back until the slot."""

    client: Any
    queue_url: str
    clock: Clock

    def send(self, trigger_ids: list[str]) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=encode_message(Message(trigger_ids)))

    def send_later(self, trigger_ids: list[str], not_before: str) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=encode_message(Message(trigger_ids, not_before)),
            DelaySeconds=delay_seconds(not_before, self.clock()),
        )


def sqs_sender(queue_url: str, region: str, clock: Clock, client: Any = None) -> SqsSender:
    """The tick's and the dispatcher's sender to the dispatch queue."""
    if client is None:
        import botocore.session  # botocore only: boto3 would cost ~140 ms of cold start

        client = botocore.session.get_session().create_client("sqs", region_name=region)
    return SqsSender(client, queue_url, clock)


@functools.cache
def dispatch_queue() -> SqsSender | None:
    """The Lambda functions' sender to the configured dispatch queue, made on first use, not at import (the API
    function imports the tick's and dispatcher's modules too, through app.py); None where no queue is set."""
    settings = runtime.settings()
    return (
        sqs_sender(settings.dispatch_queue_url, settings.region, runtime.now) if settings.dispatch_queue_url else None
    )


def delay_seconds(not_before: str, now: datetime) -> int:
    """`DelaySeconds` for a slot: rounded up, so the message is not visible before it, and at most SQS's 900
    (a later slot is re-delayed by the dispatcher on arrival)."""
    return min(MAX_DELAY_SECONDS, max(0, math.ceil((from_iso(not_before) - now).total_seconds())))


def encode_message(message: Message) -> str:
    body: dict[str, object] = {"triggerIds": message.trigger_ids}
    if message.not_before is not None:
        body["notBefore"] = message.not_before
    return json.dumps(body)


def decode_message(body: str) -> Message:
    fields = json.loads(body)
    ids = [str(trigger_id) for trigger_id in fields.get("triggerIds", [])]
    not_before = fields.get("notBefore")
    return Message(ids, str(not_before) if not_before is not None else None)
