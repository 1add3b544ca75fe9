"""Fan-out over SQS: the tick sends batches of due trigger ids; the dispatcher Lambda reads them."""

import json
from typing import Any

from chalicelib.services.scheduler import SendBatch


def sqs_sender(queue_url: str, region: str, client: Any = None) -> SendBatch:
    """A `send_batch` for the tick that sends one SQS message per batch."""
    if client is None:
        import botocore.session  # botocore only: boto3 would cost ~140 ms of cold start

        client = botocore.session.get_session().create_client("sqs", region_name=region)

    def send(trigger_ids: list[str]) -> None:
        client.send_message(QueueUrl=queue_url, MessageBody=encode_batch(trigger_ids))

    return send


def encode_batch(trigger_ids: list[str]) -> str:
    return json.dumps({"triggerIds": trigger_ids})


def decode_batch(body: str) -> list[str]:
    ids = json.loads(body).get("triggerIds", [])
    return [str(trigger_id) for trigger_id in ids]
